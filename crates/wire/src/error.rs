//! Errors as the client sees them: the one place where [`ErrorCode`]s
//! become SQLSTATEs ([`sqlstate`]), and [`WireError`], the ErrorResponse
//! the connection sends.

use shoal_sql::ErrorCode;

/// The SQLSTATE PostgreSQL reports for `code`.
pub fn sqlstate(code: ErrorCode) -> &'static str {
    use ErrorCode as C;
    match code {
        C::SyntaxError => "42601",
        C::UndefinedTable => "42P01",
        C::UndefinedColumn => "42703",
        C::UndefinedFunction => "42883",
        C::UndefinedObject => "42704",
        C::UndefinedSchema => "3F000",
        C::UndefinedDatabase => "3D000",
        C::DuplicateTable => "42P07",
        C::DuplicateColumn => "42701",
        C::DuplicateSchema => "42P06",
        C::DuplicateDatabase => "42P04",
        C::DuplicateObject => "42710",
        C::AmbiguousColumn => "42702",
        C::DatatypeMismatch => "42804",
        C::CannotCoerce => "42846",
        C::IndeterminateDatatype => "42P18",
        C::GroupingError => "42803",
        C::InvalidColumnReference => "42P10",
        C::UndefinedParameter => "42P02",
        C::InsufficientPrivilege => "42501",
        C::WrongObjectType => "42809",
        C::DivisionByZero => "22012",
        C::NumericValueOutOfRange => "22003",
        C::InvalidTextRepresentation => "22P02",
        C::InvalidDatetimeFormat => "22007",
        C::DatetimeFieldOverflow => "22008",
        C::StringDataRightTruncation => "22001",
        C::CharacterNotInRepertoire => "22021",
        C::InvalidParameterValue => "22023",
        C::ArraySubscriptError => "2202E",
        C::InvalidBinaryRepresentation => "22P03",
        C::InvalidRowCountInResultOffsetClause => "2201X",
        C::InvalidRowCountInLimitClause => "2201W",
        C::NullValueNotAllowed => "22004",
        C::CardinalityViolation => "21000",
        C::DataException => "22000",
        C::InvalidArgumentForLogarithm => "2201E",
        C::InvalidArgumentForPowerFunction => "2201F",
        C::SubstringError => "22011",
        C::InvalidRegularExpression => "2201B",
        C::InvalidEscapeSequence => "22025",
        C::SequenceGeneratorLimitExceeded => "2200H",
        C::GeneratedAlways => "428C9",
        C::InvalidForeignKey => "42830",
        C::DuplicateAlias => "42712",
        C::InvalidRecursion => "42P19",
        C::NotNullViolation => "23502",
        C::UniqueViolation => "23505",
        C::ForeignKeyViolation => "23503",
        C::CheckViolation => "23514",
        C::InFailedTransaction => "25P02",
        C::ActiveSqlTransaction => "25001",
        C::NoActiveSqlTransaction => "25P01",
        C::ReadOnlySqlTransaction => "25006",
        C::InvalidSavepoint => "3B001",
        C::InvalidCursorName => "34000",
        C::InvalidSqlStatementName => "26000",
        C::DuplicatePreparedStatement => "42P05",
        C::SerializationFailure => "40001",
        C::DeadlockDetected => "40P01",
        C::LockNotAvailable => "55P03",
        C::ObjectNotInPrerequisiteState => "55000",
        C::QueryCanceled => "57014",
        C::ProtocolViolation => "08P01",
        C::FeatureNotSupported => "0A000",
        C::DependentObjectsStillExist => "2BP01",
        C::BadCopyFileFormat => "22P04",
        C::InvalidPassword => "28P01",
        C::InvalidAuthorization => "28000",
        // The frontend lost its lease or the coordinator: the statement's
        // transaction is gone, but this connection itself still works, so
        // connection_failure rather than admin_shutdown (57P01), which
        // clients read as "the server is going away".
        C::Unavailable => "08006",
        C::TransactionResolutionUnknown => "08007",
        C::IoError => "58030",
        C::Internal => "XX000",
    }
}

/// How bad an error is: `Fatal` ends the connection after it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// An error on its way to the client as an ErrorResponse.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WireError {
    pub severity: Severity,
    /// The five-character SQLSTATE.
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl WireError {
    pub fn new(code: &'static str, message: impl Into<String>) -> WireError {
        WireError {
            severity: Severity::Error,
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn fatal(code: &'static str, message: impl Into<String>) -> WireError {
        WireError {
            severity: Severity::Fatal,
            ..WireError::new(code, message)
        }
    }

    /// 08P01: the client broke the protocol.
    pub fn protocol(message: impl Into<String>) -> WireError {
        WireError::new("08P01", message)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> WireError {
        self.detail = Some(detail.into());
        self
    }

    /// The same error, ending the connection.
    pub fn into_fatal(mut self) -> WireError {
        self.severity = Severity::Fatal;
        self
    }

    pub fn is_fatal(&self) -> bool {
        self.severity == Severity::Fatal
    }

    /// The ErrorResponse fields: severity (localized and not), SQLSTATE,
    /// message, detail, hint.
    pub fn fields(&self) -> Vec<(u8, String)> {
        let mut fields = vec![
            (b'S', self.severity.as_str().to_string()),
            (b'V', self.severity.as_str().to_string()),
            (b'C', self.code.to_string()),
            (b'M', self.message.clone()),
        ];
        if let Some(detail) = &self.detail {
            fields.push((b'D', detail.clone()));
        }
        if let Some(hint) = &self.hint {
            fields.push((b'H', hint.clone()));
        }
        fields
    }
}

impl From<shoal_sql::Error> for WireError {
    fn from(e: shoal_sql::Error) -> WireError {
        WireError {
            severity: Severity::Error,
            code: sqlstate(e.code),
            message: e.message,
            detail: e.detail,
            hint: e.hint,
        }
    }
}

/// Invalid UTF-8 from the client, reported as PostgreSQL does (22021).
pub fn invalid_utf8(bytes: &[u8], err: std::str::Utf8Error) -> WireError {
    let start = err.valid_up_to();
    let end = (start + err.error_len().unwrap_or(1)).min(bytes.len());
    let shown: Vec<String> = bytes[start..end]
        .iter()
        .map(|b| format!("0x{b:02x}"))
        .collect();
    WireError::new(
        "22021",
        format!(
            "invalid byte sequence for encoding \"UTF8\": {}",
            shown.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_match_the_documented_codes() {
        // Every code documents its SQLSTATE in error.rs; spot-check the
        // ones clients branch on.
        assert_eq!(sqlstate(ErrorCode::SyntaxError), "42601");
        assert_eq!(sqlstate(ErrorCode::UndefinedDatabase), "3D000");
        assert_eq!(sqlstate(ErrorCode::UniqueViolation), "23505");
        assert_eq!(sqlstate(ErrorCode::SerializationFailure), "40001");
        assert_eq!(sqlstate(ErrorCode::InFailedTransaction), "25P02");
        assert_eq!(sqlstate(ErrorCode::QueryCanceled), "57014");
        assert_eq!(sqlstate(ErrorCode::InvalidPassword), "28P01");
        assert_eq!(sqlstate(ErrorCode::DuplicatePreparedStatement), "42P05");
        assert_eq!(sqlstate(ErrorCode::InvalidSqlStatementName), "26000");
        assert_eq!(sqlstate(ErrorCode::Internal), "XX000");
    }

    #[test]
    fn sqlstates_are_five_characters() {
        use ErrorCode as C;
        let all = [
            C::SyntaxError,
            C::UndefinedTable,
            C::UndefinedColumn,
            C::UndefinedFunction,
            C::UndefinedObject,
            C::UndefinedSchema,
            C::UndefinedDatabase,
            C::DuplicateTable,
            C::DuplicateColumn,
            C::DuplicateSchema,
            C::DuplicateDatabase,
            C::DuplicateObject,
            C::AmbiguousColumn,
            C::DatatypeMismatch,
            C::CannotCoerce,
            C::IndeterminateDatatype,
            C::GroupingError,
            C::InvalidColumnReference,
            C::UndefinedParameter,
            C::InsufficientPrivilege,
            C::WrongObjectType,
            C::DivisionByZero,
            C::NumericValueOutOfRange,
            C::InvalidTextRepresentation,
            C::InvalidDatetimeFormat,
            C::DatetimeFieldOverflow,
            C::StringDataRightTruncation,
            C::CharacterNotInRepertoire,
            C::InvalidParameterValue,
            C::ArraySubscriptError,
            C::InvalidBinaryRepresentation,
            C::InvalidRowCountInResultOffsetClause,
            C::InvalidRowCountInLimitClause,
            C::NullValueNotAllowed,
            C::CardinalityViolation,
            C::DataException,
            C::NotNullViolation,
            C::UniqueViolation,
            C::ForeignKeyViolation,
            C::CheckViolation,
            C::InFailedTransaction,
            C::ActiveSqlTransaction,
            C::NoActiveSqlTransaction,
            C::ReadOnlySqlTransaction,
            C::InvalidSavepoint,
            C::InvalidCursorName,
            C::InvalidSqlStatementName,
            C::DuplicatePreparedStatement,
            C::SerializationFailure,
            C::DeadlockDetected,
            C::LockNotAvailable,
            C::ObjectNotInPrerequisiteState,
            C::QueryCanceled,
            C::ProtocolViolation,
            C::FeatureNotSupported,
            C::DependentObjectsStillExist,
            C::BadCopyFileFormat,
            C::InvalidPassword,
            C::InvalidAuthorization,
            C::Unavailable,
            C::TransactionResolutionUnknown,
            C::IoError,
            C::Internal,
        ];
        let mut seen = std::collections::HashSet::new();
        for code in all {
            let s = sqlstate(code);
            assert_eq!(s.len(), 5, "{code:?}");
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
            assert!(seen.insert(s), "{code:?} shares {s}");
        }
    }

    #[test]
    fn sql_errors_keep_detail_and_hint() {
        let e = shoal_sql::Error::new(ErrorCode::UniqueViolation, "duplicate key")
            .with_detail("Key (id)=(1) already exists.")
            .with_hint("h");
        let w = WireError::from(e);
        let fields = w.fields();
        assert!(fields.contains(&(b'C', "23505".into())));
        assert!(fields.contains(&(b'S', "ERROR".into())));
        assert!(fields.contains(&(b'V', "ERROR".into())));
        assert!(fields.contains(&(b'D', "Key (id)=(1) already exists.".into())));
        assert!(fields.contains(&(b'H', "h".into())));
    }

    #[test]
    fn invalid_utf8_names_the_bad_bytes() {
        let bytes = b"ab\xff\xfecd".to_vec();
        let err = std::str::from_utf8(&bytes).unwrap_err();
        let w = invalid_utf8(&bytes, err);
        assert_eq!(w.code, "22021");
        assert_eq!(
            w.message,
            "invalid byte sequence for encoding \"UTF8\": 0xff"
        );
    }
}

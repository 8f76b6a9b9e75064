//! The SQL layer's errors. Each carries an [`ErrorCode`] that says what went
//! wrong in PostgreSQL's terms; `wire` maps codes to SQLSTATEs.

use std::fmt;

/// What went wrong, as PostgreSQL classifies it. `wire::sqlstate` maps each
/// to its five-character SQLSTATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 42601
    SyntaxError,
    /// 42P01
    UndefinedTable,
    /// 42703
    UndefinedColumn,
    /// 42883
    UndefinedFunction,
    /// 42704
    UndefinedObject,
    /// 3F000
    UndefinedSchema,
    /// 3D000
    UndefinedDatabase,
    /// 42P07
    DuplicateTable,
    /// 42701
    DuplicateColumn,
    /// 42P06
    DuplicateSchema,
    /// 42P04
    DuplicateDatabase,
    /// 42710
    DuplicateObject,
    /// 42702
    AmbiguousColumn,
    /// 42804
    DatatypeMismatch,
    /// 42846
    CannotCoerce,
    /// 42P18
    IndeterminateDatatype,
    /// 42803
    GroupingError,
    /// 42P10
    InvalidColumnReference,
    /// 42P02
    UndefinedParameter,
    /// 42501
    InsufficientPrivilege,
    /// 42809
    WrongObjectType,
    /// 22012
    DivisionByZero,
    /// 22003
    NumericValueOutOfRange,
    /// 22P02
    InvalidTextRepresentation,
    /// 22007
    InvalidDatetimeFormat,
    /// 22008
    DatetimeFieldOverflow,
    /// 22001
    StringDataRightTruncation,
    /// 22021
    CharacterNotInRepertoire,
    /// 22023
    InvalidParameterValue,
    /// 2202E
    ArraySubscriptError,
    /// 22P03
    InvalidBinaryRepresentation,
    /// 2201X
    InvalidRowCountInResultOffsetClause,
    /// 2201W
    InvalidRowCountInLimitClause,
    /// 22004
    NullValueNotAllowed,
    /// 21000
    CardinalityViolation,
    /// 22000
    DataException,
    /// 2201E
    InvalidArgumentForLogarithm,
    /// 2201F
    InvalidArgumentForPowerFunction,
    /// 22011
    SubstringError,
    /// 2201B
    InvalidRegularExpression,
    /// 22025
    InvalidEscapeSequence,
    /// 2200H
    SequenceGeneratorLimitExceeded,
    /// 428C9
    GeneratedAlways,
    /// 42830
    InvalidForeignKey,
    /// 42712
    DuplicateAlias,
    /// 42P19
    InvalidRecursion,
    /// 23502
    NotNullViolation,
    /// 23505
    UniqueViolation,
    /// 23503
    ForeignKeyViolation,
    /// 23514
    CheckViolation,
    /// 25P02
    InFailedTransaction,
    /// 25001
    ActiveSqlTransaction,
    /// 25P01
    NoActiveSqlTransaction,
    /// 25006
    ReadOnlySqlTransaction,
    /// 3B001
    InvalidSavepoint,
    /// 34000
    InvalidCursorName,
    /// 26000
    InvalidSqlStatementName,
    /// 42P05
    DuplicatePreparedStatement,
    /// 40001
    SerializationFailure,
    /// 40P01
    DeadlockDetected,
    /// 55P03
    LockNotAvailable,
    /// 55000
    ObjectNotInPrerequisiteState,
    /// 57014
    QueryCanceled,
    /// 08P01
    ProtocolViolation,
    /// 0A000
    FeatureNotSupported,
    /// 2BP01
    DependentObjectsStillExist,
    /// 22P04 (COPY data)
    BadCopyFileFormat,
    /// 28P01
    InvalidPassword,
    /// 28000
    InvalidAuthorization,
    /// 57P01 / 08006: the frontend lost its lease or the coordinator.
    Unavailable,
    /// 08007: a COMMIT got no answer; it may or may not have happened.
    TransactionResolutionUnknown,
    /// 58030: the store failed (I/O, corrupt data).
    IoError,
    /// XX000
    Internal,
}

/// An error from the SQL layer, with what PostgreSQL would say.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    pub fn syntax(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::SyntaxError, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::FeatureNotSupported, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<shoal_txn::Error> for Error {
    fn from(e: shoal_txn::Error) -> Self {
        use shoal_txn::ErrorKind as K;
        let code = match e.kind {
            K::Serialization => ErrorCode::SerializationFailure,
            K::Deadlock => ErrorCode::DeadlockDetected,
            K::LockTimeout | K::LockNotAvailable => ErrorCode::LockNotAvailable,
            K::Unavailable | K::Aborted | K::CommitFailed => ErrorCode::Unavailable,
            K::OutcomeUnknown => ErrorCode::TransactionResolutionUnknown,
            K::Storage => ErrorCode::IoError,
            K::Internal => ErrorCode::Internal,
        };
        let message = match e.kind {
            K::Deadlock => "deadlock detected".to_string(),
            K::Serialization => "could not serialize access due to concurrent update".to_string(),
            _ => e.message,
        };
        Error::new(code, message)
    }
}

//! Lock modes and their compatibility matrix: the five table modes of
//! multi-granularity locking and PostgreSQL's four row modes.
//!
//! Within a family, modes are ordered by their conflict sets: `a` covers `b`
//! when `a` conflicts with everything `b` conflicts with, which is exactly
//! when holding `a` excludes other transactions from at least what holding
//! `b` does. An upgrade takes the least mode that covers both the held and
//! the requested mode (the lattice supremum): IX + S = SIX for tables, and
//! for rows, whose modes form a chain, simply the stronger one.

use std::fmt;

/// A table lock mode (Gray's multi-granularity locking). Statements take an
/// intent mode on the table before row locks: IS before reading rows FOR
/// SHARE, IX before writing rows; S, SIX and X lock the whole table (bulk
/// reads, DDL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableMode {
    /// IS: will take shared row locks.
    IntentShare,
    /// IX: will take exclusive row locks.
    IntentExclusive,
    /// S: reads the whole table; no one may write it.
    Share,
    /// SIX: reads the whole table and writes some rows.
    ShareIntentExclusive,
    /// X: exclusive use of the table (DDL).
    Exclusive,
}

impl TableMode {
    /// Every table mode, weakest first.
    pub const ALL: [TableMode; 5] = [
        TableMode::IntentShare,
        TableMode::IntentExclusive,
        TableMode::Share,
        TableMode::ShareIntentExclusive,
        TableMode::Exclusive,
    ];
}

/// A row lock mode, as PostgreSQL's row-level locks. `Share` and `Exclusive`
/// are the classic S and X; the key modes let foreign-key checks
/// (`KeyShare`) and updates that leave the key alone (`NoKeyExclusive`) run
/// concurrently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowMode {
    /// `SELECT ... FOR KEY SHARE` (foreign-key checks): blocks only `Exclusive`.
    KeyShare,
    /// S: `SELECT ... FOR SHARE`.
    Share,
    /// `SELECT ... FOR NO KEY UPDATE`, and `UPDATE`s that do not change the key.
    NoKeyExclusive,
    /// X: `SELECT ... FOR UPDATE`, `DELETE`, key-changing `UPDATE`.
    Exclusive,
}

impl RowMode {
    /// Every row mode, weakest first.
    pub const ALL: [RowMode; 4] = [
        RowMode::KeyShare,
        RowMode::Share,
        RowMode::NoKeyExclusive,
        RowMode::Exclusive,
    ];
}

/// A mode of either family. The two never meet on one resource: a
/// [`super::LockRequest`] pairs table modes with tables and row modes with
/// rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockMode {
    Table(TableMode),
    Row(RowMode),
}

// One bit per mode, so a set of held or awaited modes is a u16 and a
// compatibility check is one AND.
const IS: u16 = 1 << 0;
const IX: u16 = 1 << 1;
const S: u16 = 1 << 2;
const SIX: u16 = 1 << 3;
const X: u16 = 1 << 4;
const ROW_KS: u16 = 1 << 5;
const ROW_S: u16 = 1 << 6;
const ROW_NKX: u16 = 1 << 7;
const ROW_X: u16 = 1 << 8;

/// The compatibility matrix, as the set of modes each mode conflicts with,
/// indexed by [`LockMode::index`]. Symmetric (checked in the tests).
const CONFLICTS: [u16; 9] = [
    X,                                // IS
    S | SIX | X,                      // IX
    IX | SIX | X,                     // S
    IX | S | SIX | X,                 // SIX
    IS | IX | S | SIX | X,            // X
    ROW_X,                            // KeyShare
    ROW_NKX | ROW_X,                  // Share
    ROW_S | ROW_NKX | ROW_X,          // NoKeyExclusive
    ROW_KS | ROW_S | ROW_NKX | ROW_X, // Exclusive
];

impl LockMode {
    /// Every mode, tables first, weakest first within a family.
    pub const ALL: [LockMode; 9] = [
        LockMode::Table(TableMode::IntentShare),
        LockMode::Table(TableMode::IntentExclusive),
        LockMode::Table(TableMode::Share),
        LockMode::Table(TableMode::ShareIntentExclusive),
        LockMode::Table(TableMode::Exclusive),
        LockMode::Row(RowMode::KeyShare),
        LockMode::Row(RowMode::Share),
        LockMode::Row(RowMode::NoKeyExclusive),
        LockMode::Row(RowMode::Exclusive),
    ];

    fn index(self) -> usize {
        match self {
            LockMode::Table(mode) => mode as usize,
            LockMode::Row(mode) => 5 + mode as usize,
        }
    }

    fn is_table(self) -> bool {
        matches!(self, LockMode::Table(_))
    }

    /// This mode as a one-element mode set.
    pub(crate) fn bit(self) -> u16 {
        1 << self.index()
    }

    fn conflict_mask(self) -> u16 {
        CONFLICTS[self.index()]
    }

    /// Whether two different transactions may not hold `self` and `other` on
    /// one resource at the same time.
    pub fn conflicts_with(self, other: LockMode) -> bool {
        self.conflict_mask() & other.bit() != 0
    }

    /// Whether `self` conflicts with any mode in the set `modes` (a union of
    /// [`LockMode::bit`]s).
    pub(crate) fn conflicts_with_any(self, modes: u16) -> bool {
        self.conflict_mask() & modes != 0
    }

    /// Whether holding `self` already gives everything holding `other` does,
    /// so a request for `other` by a holder of `self` is granted at once.
    pub fn covers(self, other: LockMode) -> bool {
        self.is_table() == other.is_table()
            && self.conflict_mask() & other.conflict_mask() == other.conflict_mask()
    }

    /// The weakest mode that covers both: what a holder of `self` holds
    /// after it is granted `other`.
    pub fn supremum(self, other: LockMode) -> LockMode {
        if self.covers(other) {
            return self;
        }
        let needed = self.conflict_mask() | other.conflict_mask();
        // ALL is weakest-first within each family, so the first covering
        // candidate of the family is the least upper bound. Each family's
        // strongest mode conflicts with the whole family, so one is found
        // unless the families differ, which LockRequest rules out; then the
        // strongest mode of `self`'s family is the safe answer.
        debug_assert_eq!(
            self.is_table(),
            other.is_table(),
            "modes of different families"
        );
        LockMode::ALL
            .into_iter()
            .filter(|m| m.is_table() == self.is_table())
            .find(|m| m.conflict_mask() & needed == needed)
            .unwrap_or(if self.is_table() {
                LockMode::Table(TableMode::Exclusive)
            } else {
                LockMode::Row(RowMode::Exclusive)
            })
    }
}

impl From<TableMode> for LockMode {
    fn from(mode: TableMode) -> Self {
        LockMode::Table(mode)
    }
}

impl From<RowMode> for LockMode {
    fn from(mode: RowMode) -> Self {
        LockMode::Row(mode)
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            LockMode::Table(TableMode::IntentShare) => "IS",
            LockMode::Table(TableMode::IntentExclusive) => "IX",
            LockMode::Table(TableMode::Share) => "S",
            LockMode::Table(TableMode::ShareIntentExclusive) => "SIX",
            LockMode::Table(TableMode::Exclusive) => "X",
            LockMode::Row(RowMode::KeyShare) => "FOR KEY SHARE",
            LockMode::Row(RowMode::Share) => "FOR SHARE",
            LockMode::Row(RowMode::NoKeyExclusive) => "FOR NO KEY UPDATE",
            LockMode::Row(RowMode::Exclusive) => "FOR UPDATE",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use TableMode::{
        Exclusive as TX, IntentExclusive as TIX, IntentShare as TIS, Share as TS,
        ShareIntentExclusive as TSIX,
    };

    /// The textbook table matrix, written out independently of `CONFLICTS`:
    /// IS-IS/IX/S/SIX, IX-IS/IX, S-IS/S, SIX-IS are compatible, X with none.
    fn table_compatible(a: TableMode, b: TableMode) -> bool {
        let ok: &[(TableMode, TableMode)] = &[
            (TIS, TIS),
            (TIS, TIX),
            (TIS, TS),
            (TIS, TSIX),
            (TIX, TIX),
            (TS, TS),
        ];
        ok.contains(&(a, b)) || ok.contains(&(b, a))
    }

    /// PostgreSQL's row-lock conflict table (docs, "Row-Level Locks").
    fn row_compatible(a: RowMode, b: RowMode) -> bool {
        use RowMode::*;
        let ok: &[(RowMode, RowMode)] = &[
            (KeyShare, KeyShare),
            (KeyShare, Share),
            (KeyShare, NoKeyExclusive),
            (Share, Share),
        ];
        ok.contains(&(a, b)) || ok.contains(&(b, a))
    }

    #[test]
    fn table_matrix_pairwise() {
        for a in TableMode::ALL {
            for b in TableMode::ALL {
                assert_eq!(
                    LockMode::Table(a).conflicts_with(LockMode::Table(b)),
                    !table_compatible(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn row_matrix_pairwise() {
        for a in RowMode::ALL {
            for b in RowMode::ALL {
                assert_eq!(
                    LockMode::Row(a).conflicts_with(LockMode::Row(b)),
                    !row_compatible(a, b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn families_never_conflict() {
        for t in TableMode::ALL {
            for r in RowMode::ALL {
                assert!(!LockMode::Table(t).conflicts_with(LockMode::Row(r)));
                assert!(!LockMode::Row(r).conflicts_with(LockMode::Table(t)));
                assert!(!LockMode::Table(t).covers(LockMode::Row(r)));
            }
        }
    }

    #[test]
    fn supremum_is_least_upper_bound() {
        for a in LockMode::ALL {
            for b in LockMode::ALL
                .into_iter()
                .filter(|b| b.is_table() == a.is_table())
            {
                let sup = a.supremum(b);
                assert_eq!(sup, b.supremum(a), "commutative");
                assert!(
                    sup.covers(a) && sup.covers(b),
                    "{a} + {b} = {sup} is an upper bound"
                );
                for c in LockMode::ALL {
                    if c.covers(a) && c.covers(b) {
                        assert!(c.covers(sup), "{c} covers {a} and {b} but not {sup}");
                    }
                }
            }
        }
    }

    #[test]
    fn named_upgrades() {
        let t = LockMode::Table;
        let r = LockMode::Row;
        assert_eq!(t(TIX).supremum(t(TS)), t(TSIX));
        assert_eq!(t(TIS).supremum(t(TIX)), t(TIX));
        assert_eq!(t(TS).supremum(t(TSIX)), t(TSIX));
        assert_eq!(t(TSIX).supremum(t(TX)), t(TX));
        assert_eq!(
            r(RowMode::Share).supremum(r(RowMode::Exclusive)),
            r(RowMode::Exclusive)
        );
        assert_eq!(
            r(RowMode::Share).supremum(r(RowMode::NoKeyExclusive)),
            r(RowMode::NoKeyExclusive)
        );
        assert!(r(RowMode::Exclusive).covers(r(RowMode::Share)));
        assert!(!r(RowMode::Share).covers(r(RowMode::Exclusive)));
    }
}

//! Where each kind of object lives under a store's root prefix (DESIGN.md
//! section 1). Numbers are zero-padded to 20 digits so that lexicographic
//! listing order is numeric order.

use object_store::path::Path;

/// The object names of one store, under its root prefix.
#[derive(Clone, Debug)]
pub struct Layout {
    root: Path,
}

/// The four kinds of objects a store holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Epoch,
    Wal,
    Sst,
    Manifest,
}

impl ObjectKind {
    fn dir(self) -> &'static str {
        match self {
            ObjectKind::Epoch => "epochs",
            ObjectKind::Wal => "wal",
            ObjectKind::Sst => "sst",
            ObjectKind::Manifest => "manifest",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            ObjectKind::Sst => ".sst",
            _ => "",
        }
    }
}

impl Layout {
    pub fn new(root: Path) -> Self {
        Layout { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding objects of `kind`.
    pub fn dir(&self, kind: ObjectKind) -> Path {
        self.root.clone().join(kind.dir())
    }

    /// The object of `kind` numbered `n`.
    pub fn object(&self, kind: ObjectKind, n: u64) -> Path {
        self.dir(kind).join(format!("{n:020}{}", kind.suffix()))
    }

    pub fn wal(&self, segment: u64) -> Path {
        self.object(ObjectKind::Wal, segment)
    }

    pub fn sst(&self, id: u64) -> Path {
        self.object(ObjectKind::Sst, id)
    }

    pub fn manifest(&self, version: u64) -> Path {
        self.object(ObjectKind::Manifest, version)
    }

    pub fn epoch(&self, epoch: u64) -> Path {
        self.object(ObjectKind::Epoch, epoch)
    }

    /// The store's random identity (see [`crate::store_id`]).
    pub fn store_id(&self) -> Path {
        self.root.clone().join("store-id")
    }

    /// The number of an object of `kind`, from its path; `None` for
    /// anything else found in that directory (temporary files, strays).
    pub fn parse(&self, kind: ObjectKind, path: &Path) -> Option<u64> {
        let name = path.filename()?;
        let digits = name.strip_suffix(kind.suffix())?;
        if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let l = Layout::new(Path::from("db/one"));
        assert_eq!(l.wal(7).as_ref(), "db/one/wal/00000000000000000007");
        assert_eq!(l.sst(12).as_ref(), "db/one/sst/00000000000000000012.sst");
        assert_eq!(
            l.manifest(3).as_ref(),
            "db/one/manifest/00000000000000000003"
        );
        assert_eq!(l.parse(ObjectKind::Sst, &l.sst(12)), Some(12));
        assert_eq!(l.parse(ObjectKind::Wal, &l.wal(u64::MAX)), Some(u64::MAX));
        assert_eq!(l.parse(ObjectKind::Sst, &l.wal(1)), None);
        assert_eq!(
            l.parse(ObjectKind::Wal, &Path::from("db/one/wal/x.tmp")),
            None
        );
        let root = Layout::new(Path::default());
        assert_eq!(root.epoch(1).as_ref(), "epochs/00000000000000000001");
    }
}

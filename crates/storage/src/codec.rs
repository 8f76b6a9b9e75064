//! Little-endian binary encoding shared by the on-object formats (WAL
//! segments, SST pages, manifests), with bounds-checked decoding that turns
//! any truncation into an [`Error::Corrupt`] naming the object.

use bytes::{BufMut, Bytes};

use crate::error::{Error, Result};

/// Appends fixed-width and length-prefixed fields to a buffer.
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn with_capacity(n: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(n),
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.put_u8(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.put_u32_le(v);
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.put_u64_le(v);
    }

    /// A length-prefixed (u32) byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).expect("field under 4 GiB"));
        self.buf.put_slice(v);
    }

    /// An optional byte string: a presence byte, then the string.
    pub fn opt_bytes(&mut self, v: Option<&[u8]>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.bytes(v);
            }
            None => self.u8(0),
        }
    }

    /// Appends the CRC32C of everything written so far.
    pub fn finish_with_crc(mut self) -> Vec<u8> {
        let crc = crc32c::crc32c(&self.buf);
        self.u32(crc);
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Reads fields back; every read is bounds-checked.
pub struct Decoder<'a> {
    object: &'a str,
    buf: Bytes,
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`, which came from `object` (named in errors).
    pub fn new(object: &'a str, buf: Bytes) -> Self {
        Decoder {
            object,
            buf,
            pos: 0,
        }
    }

    /// Checks the trailing CRC32C of `buf` and returns a decoder over the
    /// rest. `what` says which part of the object failed ("page 3").
    pub fn checked(object: &'a str, what: &str, buf: Bytes) -> Result<Self> {
        if buf.len() < 4 {
            return Err(Error::corrupt(
                object,
                format!("{what}: too short for a checksum"),
            ));
        }
        let body = buf.slice(..buf.len() - 4);
        let stored = u32::from_le_bytes(buf[buf.len() - 4..].try_into().expect("4 bytes"));
        let actual = crc32c::crc32c(&body);
        if stored != actual {
            return Err(Error::corrupt(
                object,
                format!(
                    "{what}: checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
                ),
            ));
        }
        Ok(Decoder::new(object, body))
    }

    fn take(&mut self, n: usize) -> Result<Bytes> {
        if self.buf.len() - self.pos < n {
            return Err(Error::corrupt(
                self.object,
                format!(
                    "truncated: wanted {n} bytes at offset {}, have {}",
                    self.pos,
                    self.buf.len() - self.pos
                ),
            ));
        }
        let out = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?[..].try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?[..].try_into().expect("8 bytes"),
        ))
    }

    /// A length-prefixed byte string (zero-copy slice of the input).
    pub fn bytes(&mut self) -> Result<Bytes> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub fn opt_bytes(&mut self) -> Result<Option<Bytes>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.bytes()?)),
            t => Err(self.corrupt(format!("bad presence tag {t}"))),
        }
    }

    /// A count of items that each take at least `min_item` bytes; rejects
    /// counts the remaining input cannot hold, so a corrupt count cannot
    /// make the caller allocate unbounded memory.
    pub fn count(&mut self, min_item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.remaining() {
            return Err(self.corrupt(format!(
                "count {n} exceeds remaining {} bytes",
                self.remaining()
            )));
        }
        Ok(n)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless the whole input was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(self.corrupt(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }

    /// A corruption error naming this decoder's object.
    pub fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::corrupt(self.object, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crc() {
        let mut e = Encoder::default();
        e.u8(7);
        e.u32(42);
        e.u64(u64::MAX);
        e.bytes(b"hello");
        e.opt_bytes(None);
        e.opt_bytes(Some(b""));
        let buf = Bytes::from(e.finish_with_crc());
        let mut d = Decoder::checked("obj", "whole", buf.clone()).unwrap();
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u32().unwrap(), 42);
        assert_eq!(d.u64().unwrap(), u64::MAX);
        assert_eq!(&d.bytes().unwrap()[..], b"hello");
        assert_eq!(d.opt_bytes().unwrap(), None);
        assert_eq!(d.opt_bytes().unwrap().as_deref(), Some(&b""[..]));
        d.finish().unwrap();

        for i in 0..buf.len() {
            let mut bad = buf.to_vec();
            bad[i] ^= 0x40;
            let err = Decoder::checked("obj", "whole", Bytes::from(bad))
                .err()
                .expect("flip detected");
            assert!(err.to_string().contains("obj"), "{err}");
        }
    }

    #[test]
    fn truncation_is_an_error() {
        let mut d = Decoder::new("obj", Bytes::from_static(&[1, 0, 0]));
        assert!(d.u32().is_err());
        let mut d = Decoder::new("obj", Bytes::from_static(&[0xff, 0xff, 0xff, 0x7f]));
        assert!(d.count(1).is_err());
    }
}

//! The page cache's disk-tier settings shared by `shoal dev` and `shoal
//! frontend` (`--cache-dir`, `--cache-size`), and the size syntax they use.

use std::path::PathBuf;

use shoal_storage::cache::DiskCacheOptions;

/// Where a frontend keeps pages on local disk, so a restart starts warm.
#[derive(clap::Args, Clone, Debug)]
pub struct DiskCacheArgs {
    /// A local directory for the page cache's disk tier: pages read from
    /// the object store are kept there as files and read back after a
    /// restart on this host. Dedicate it to one frontend of one store (a
    /// directory holding another store's pages is wiped; `shoal dev` gives
    /// each of its frontends a subdirectory, `frontend-<n>`). Unset: memory
    /// only.
    #[arg(long, env = "SHOAL_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The disk tier's capacity (with --cache-dir): bytes, or a number with
    /// KiB, MiB, GiB or TiB (also K, M, G, T: powers of 1024) or KB, MB, GB,
    /// TB (powers of 1000), such as `10GiB` (the memory tier is sized separately).
    #[arg(
        long,
        env = "SHOAL_CACHE_SIZE",
        default_value = "1GiB",
        value_name = "SIZE",
        value_parser = parse_size
    )]
    pub cache_size: u64,
}

impl DiskCacheArgs {
    /// The disk tier in `--cache-dir`, or in its subdirectory `sub` (each
    /// of `shoal dev`'s frontends has its own).
    pub fn options(&self, sub: Option<&str>) -> Option<DiskCacheOptions> {
        let dir = self.cache_dir.as_ref()?;
        Some(DiskCacheOptions {
            dir: sub.map_or_else(|| dir.clone(), |s| dir.join(s)),
            capacity_bytes: self.cache_size,
        })
    }
}

/// A size in bytes: digits, then optionally (spaces allowed, any case) `B`,
/// `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (powers of 1024) or `KB`,
/// `MB`, `GB`, `TB` (powers of 1000).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let bad = || {
        format!(
            "`{s}` is not a size: use bytes or a whole number with KiB, MiB, GiB, TiB \
             (or K, M, G, T), or KB, MB, GB, TB, such as 10GiB"
        )
    };
    let number: u64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("10 gib"), Ok(10 << 30));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("2TB"), Ok(2_000_000_000_000));
        assert_eq!(parse_size("7b"), Ok(7));
        for bad in ["", "GiB", "1.5GiB", "-1", "10 parsecs", "10GiBs"] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.contains("not a size"), "{bad}: {err}");
        }
        assert!(parse_size("99999999TiB").unwrap_err().contains("too large"));
    }
}

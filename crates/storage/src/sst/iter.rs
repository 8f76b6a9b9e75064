//! Range scans over one SST, forward or reverse, loading pages lazily.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::format::Page;
use super::reader::SstReader;
use crate::error::Result;
use crate::types::{Direction, Entry};

/// A scan over one SST's entries within a key range (see [`SstReader::iter`]).
pub struct SstIter {
    reader: Arc<SstReader>,
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    direction: Direction,
    state: State,
    /// Reverse scans only: the versions of the current key, oldest first,
    /// popped newest first. A reverse walk meets a key's versions oldest
    /// first, so it gathers them all before returning any.
    run: Vec<Entry>,
    /// Reverse scans only: the entry that ended the last run (the next key).
    lookahead: Option<Entry>,
}

enum State {
    /// Not positioned yet: the first `next` seeks, so creating a scan is free.
    Start,
    /// Within page `no`. Forward, `idx` is the next entry to return; reverse,
    /// `idx` entries remain before the position, the next being `idx - 1`.
    At {
        no: usize,
        page: Page,
        idx: usize,
    },
    Done,
}

impl SstIter {
    pub(super) fn new(
        reader: Arc<SstReader>,
        (lower, upper): (Bound<Bytes>, Bound<Bytes>),
        direction: Direction,
    ) -> SstIter {
        SstIter {
            reader,
            lower,
            upper,
            direction,
            state: State::Start,
            run: Vec::new(),
            lookahead: None,
        }
    }

    pub async fn next(&mut self) -> Result<Option<Entry>> {
        let next = match self.direction {
            Direction::Forward => self.next_forward().await,
            Direction::Reverse => self.next_reverse().await,
        };
        if next.is_err() {
            // A damaged page ends the scan rather than skipping ahead.
            self.state = State::Done;
            self.run.clear();
            self.lookahead = None;
        }
        next
    }

    async fn next_forward(&mut self) -> Result<Option<Entry>> {
        if let State::Start = self.state {
            self.seek_forward().await?;
        }
        loop {
            let State::At { no, page, idx } = &mut self.state else {
                return Ok(None);
            };
            if *idx < page.len() {
                let entry = page.entry(self.reader.object(), *idx)?;
                *idx += 1;
                if !below_upper(&self.upper, &entry.key) {
                    self.state = State::Done;
                    return Ok(None);
                }
                return Ok(Some(entry));
            }
            // Stop before fetching a page that starts past the range.
            let next = *no + 1;
            match self.reader.page_handles().get(next) {
                Some(h) if below_upper(&self.upper, &h.first_key) => {
                    let page = self.reader.page(next).await?;
                    self.state = State::At {
                        no: next,
                        page,
                        idx: 0,
                    };
                }
                _ => self.state = State::Done,
            }
        }
    }

    /// Positions at the first entry at or after the lower bound.
    async fn seek_forward(&mut self) -> Result<()> {
        // The range may begin inside the last page that starts before it.
        let no = self
            .reader
            .page_handles()
            .partition_point(|h| !above_lower(&self.lower, &h.first_key))
            .saturating_sub(1);
        let page = self.reader.page(no).await?;
        let idx = page.search(self.reader.object(), |e| above_lower(&self.lower, &e.key))?;
        self.state = State::At { no, page, idx };
        Ok(())
    }

    async fn next_reverse(&mut self) -> Result<Option<Entry>> {
        if let State::Start = self.state {
            self.seek_reverse().await?;
        }
        loop {
            if let Some(entry) = self.run.pop() {
                return Ok(Some(entry));
            }
            let first = match self.lookahead.take() {
                Some(entry) => entry,
                None => match self.prev_raw().await? {
                    Some(entry) => entry,
                    None => return Ok(None),
                },
            };
            if !above_lower(&self.lower, &first.key) {
                self.state = State::Done;
                return Ok(None);
            }
            let key = first.key.clone();
            self.run.push(first);
            while let Some(entry) = self.prev_raw().await? {
                if entry.key != key {
                    self.lookahead = Some(entry);
                    break;
                }
                self.run.push(entry);
            }
        }
    }

    /// Positions just past the last entry at or before the upper bound.
    async fn seek_reverse(&mut self) -> Result<()> {
        let pages = self
            .reader
            .page_handles()
            .partition_point(|h| below_upper(&self.upper, &h.first_key));
        let Some(no) = pages.checked_sub(1) else {
            self.state = State::Done;
            return Ok(());
        };
        let page = self.reader.page(no).await?;
        let idx = page.search(self.reader.object(), |e| !below_upper(&self.upper, &e.key))?;
        self.state = State::At { no, page, idx };
        Ok(())
    }

    /// The entry before the position, walking back across pages.
    async fn prev_raw(&mut self) -> Result<Option<Entry>> {
        loop {
            let State::At { no, page, idx } = &mut self.state else {
                return Ok(None);
            };
            if *idx > 0 {
                *idx -= 1;
                return Ok(Some(page.entry(self.reader.object(), *idx)?));
            }
            let Some(prev) = no.checked_sub(1) else {
                self.state = State::Done;
                return Ok(None);
            };
            let page = self.reader.page(prev).await?;
            let idx = page.len();
            self.state = State::At {
                no: prev,
                page,
                idx,
            };
        }
    }
}

fn below_upper(upper: &Bound<Bytes>, key: &[u8]) -> bool {
    match upper {
        Bound::Included(k) => key <= &k[..],
        Bound::Excluded(k) => key < &k[..],
        Bound::Unbounded => true,
    }
}

fn above_lower(lower: &Bound<Bytes>, key: &[u8]) -> bool {
    match lower {
        Bound::Included(k) => key >= &k[..],
        Bound::Excluded(k) => key > &k[..],
        Bound::Unbounded => true,
    }
}

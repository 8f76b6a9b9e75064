//! Deliver, then visible (DESIGN.md section 2, "Coherence"): when a sealed
//! commit batch may become visible, on the coordinator ([`Visibility`]) and
//! on a frontend ([`FrontendView`]).
//!
//! Both are deterministic state machines without I/O or clock reads: inputs
//! in, [`VisibilityEffect`]s or answers out.
//!
//! The life of one batch on the coordinator:
//!
//! 1. [`Visibility::batch_sealed`]: group commit closed the batch. It is
//!    delivered to every live member ([`VisibilityEffect::Deliver`]) while its
//!    WAL segment is PUT, in parallel.
//! 2. Results arrive in any order: [`Visibility::wal_written`],
//!    [`Visibility::acked`], and, from membership,
//!    [`Visibility::member_evicted`] (that member's ack is no longer needed)
//!    and [`Visibility::member_joined`] (the newcomer is sent the batches in
//!    flight, but its ack is not needed: it was not a member at the seal).
//! 3. The batch becomes visible ([`VisibilityEffect::Visible`]) once its WAL
//!    segment is written, every member live at the seal and not evicted since
//!    has acked, and every earlier batch is visible. The shell then releases
//!    its locks, answers its committers and broadcasts `visible = last_lsn`.
//! 4. If its WAL write fails ([`Visibility::wal_failed`]), it and every later
//!    batch in flight fail ([`VisibilityEffect::Failed`]) and no batch is
//!    sealed until [`Visibility::reset`]; if the write lost the race to a
//!    newer leader's segment ([`Visibility::wal_fenced`]), everything in
//!    flight is abandoned and this coordinator stops for good
//!    ([`VisibilityEffect::Fenced`]).
//!
//! Why this order is safe: a frontend takes as its snapshot the highest LSN
//! it has received, and waits while any received batch is still pending
//! ([`FrontendView::snapshot_lsn`]). Since no batch is visible anywhere until
//! every live frontend holds it, once one client has seen a commit every
//! later transaction on every frontend sees it too.
//!
//! A new leader first waits out the longest lease its predecessor may have
//! granted ([`Visibility::new_leader_hold_until`]): until then a frontend
//! that has not reconnected may still be serving on an old lease without the
//! newest batches, so nothing may become visible.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::membership::MemberId;

/// What the shell must do after an input to [`Visibility`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisibilityEffect {
    /// Stream the batch to the member, which applies it as pending and acks.
    Deliver { member: MemberId, batch_id: u64 },
    /// The batch is visible: release its transactions' locks (carrying their
    /// LSNs), answer its committers, and tell every frontend
    /// `visible = last_lsn`. These come in batch order.
    Visible { batch_id: u64, last_lsn: u64 },
    /// A new leader's hold is over: tell every frontend `visible =
    /// visible_lsn` (the durable end this leader started from, so that
    /// frontends holding batches up to it as pending may read them). Any
    /// [`VisibilityEffect::Visible`] effects follow it.
    HoldReleased { visible_lsn: u64 },
    /// These batches will never become visible here: answer their
    /// committers with an error. The failed WAL PUT may still have written
    /// its object (a timeout, say), and later batches' PUTs may have
    /// succeeded, so unless the shell has checked `wal/`, the outcome is
    /// unknown rather than rolled back.
    Failed { batch_ids: Vec<u64>, reason: String },
    /// A newer leader has taken over: this coordinator must stop at once.
    /// The abandoned batches' fate is the new leader's to decide (those whose
    /// WAL segment was written will be recovered as committed), so their
    /// committers must be told the outcome is unknown.
    Fenced { abandoned_batch_ids: Vec<u64> },
}

/// Why [`Visibility::batch_sealed`] or [`Visibility::reset`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisibilityError {
    /// A WAL write failed; the leader must re-check that it still leads,
    /// then [`Visibility::reset`].
    #[error("WAL write of batch {failed_batch_id} failed; no batches are accepted until reset")]
    Halted { failed_batch_id: u64 },
    /// A newer leader fenced this one; nothing is accepted any more.
    #[error("this coordinator was fenced by a newer leader")]
    Fenced,
    /// Batch ids must increase, even across failures, so that a late ack or
    /// WAL result for a failed batch cannot be taken for a new one.
    #[error("batch {batch_id} sealed after batch {previous_batch_id}")]
    BatchIdNotIncreasing {
        batch_id: u64,
        previous_batch_id: u64,
    },
    /// LSNs must increase from batch to batch, since visibility follows LSN
    /// order.
    #[error("batch ending at LSN {last_lsn} sealed after LSN {previous_lsn}")]
    LsnNotIncreasing { last_lsn: u64, previous_lsn: u64 },
}

/// One batch in flight, for introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightBatch {
    pub batch_id: u64,
    pub last_lsn: u64,
    pub wal_written: bool,
    /// Members live at the seal that have neither acked nor been evicted.
    pub awaiting_acks: Vec<MemberId>,
}

/// The coordinator's side of deliver/visible: the sealed batches that are
/// not visible yet, and what each still waits for.
#[derive(Debug, Clone)]
pub struct Visibility {
    /// Sealed batches neither visible nor failed, in seal order, which is
    /// batch id order and LSN order.
    in_flight: VecDeque<Batch>,
    /// The last LSN of the newest visible batch, or the durable end this
    /// coordinator started from.
    visible_lsn: u64,
    /// The newest batch ever sealed, failed ones included: the next must
    /// come after it in both id and LSN.
    last_sealed_batch_id: Option<u64>,
    last_sealed_lsn: u64,
    /// Until when a new leader holds visibility back; `None` once a tick has
    /// passed it (or for a leader that never needed one).
    hold_until_ms: Option<u64>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Accepting,
    /// A WAL write failed; in-flight batches before it carry on.
    Halted {
        failed_batch_id: u64,
    },
    /// Final.
    Fenced,
}

#[derive(Debug, Clone)]
struct Batch {
    batch_id: u64,
    last_lsn: u64,
    wal_written: bool,
    awaiting_acks: BTreeSet<MemberId>,
}

impl Batch {
    fn is_ready(&self) -> bool {
        self.wal_written && self.awaiting_acks.is_empty()
    }
}

impl Visibility {
    /// A coordinator whose WAL ends (durably) at `durable_lsn`: the first
    /// batch it seals must end above it. A new leader calls
    /// [`Visibility::new_leader_hold_until`] next, before anything else.
    pub fn new(durable_lsn: u64) -> Self {
        Visibility {
            in_flight: VecDeque::new(),
            visible_lsn: durable_lsn,
            last_sealed_batch_id: None,
            last_sealed_lsn: durable_lsn,
            hold_until_ms: None,
            state: State::Accepting,
        }
    }

    /// Makes nothing visible until a [`Visibility::tick`] at or after
    /// `until_ms` (shell clock): the instant by which every frontend lease
    /// the previous leader may have granted has expired, which is at most
    /// its leader lease, plus clock drift, after this leader took the epoch.
    /// Batches may be sealed, delivered and acked meanwhile. A second call
    /// can only lengthen the hold.
    pub fn new_leader_hold_until(&mut self, until_ms: u64) {
        let until_ms = self
            .hold_until_ms
            .map_or(until_ms, |held| held.max(until_ms));
        self.hold_until_ms = Some(until_ms);
    }

    /// Takes a sealed batch ending at `last_lsn` whose WAL PUT is starting,
    /// to be delivered to and acked by `members_now`, the live members
    /// ([`crate::membership::Membership::live_members`]).
    pub fn batch_sealed(
        &mut self,
        batch_id: u64,
        last_lsn: u64,
        members_now: &[MemberId],
    ) -> Result<Vec<VisibilityEffect>, VisibilityError> {
        match self.state {
            State::Accepting => {}
            State::Halted { failed_batch_id } => {
                return Err(VisibilityError::Halted { failed_batch_id })
            }
            State::Fenced => return Err(VisibilityError::Fenced),
        }
        if let Some(previous_batch_id) = self.last_sealed_batch_id {
            if batch_id <= previous_batch_id {
                return Err(VisibilityError::BatchIdNotIncreasing {
                    batch_id,
                    previous_batch_id,
                });
            }
        }
        if last_lsn <= self.last_sealed_lsn {
            return Err(VisibilityError::LsnNotIncreasing {
                last_lsn,
                previous_lsn: self.last_sealed_lsn,
            });
        }
        self.last_sealed_batch_id = Some(batch_id);
        self.last_sealed_lsn = last_lsn;

        let awaiting_acks: BTreeSet<MemberId> = members_now.iter().copied().collect();
        let effects = awaiting_acks
            .iter()
            .map(|&member| VisibilityEffect::Deliver { member, batch_id })
            .collect();
        self.in_flight.push_back(Batch {
            batch_id,
            last_lsn,
            wal_written: false,
            awaiting_acks,
        });
        // Nothing can become visible yet: this batch's WAL is not written.
        Ok(effects)
    }

    /// The batch's WAL segment is durable. Ignored for a batch not in flight
    /// (already failed, say).
    pub fn wal_written(&mut self, batch_id: u64) -> Vec<VisibilityEffect> {
        match self.batch_mut(batch_id) {
            Some(batch) => batch.wal_written = true,
            None => return Vec::new(),
        }
        self.release_ready()
    }

    /// The batch's WAL PUT failed for a reason other than losing the race to
    /// a newer leader (retries exhausted, say). That batch and every later
    /// one in flight fail (later ones would leave a gap in LSN order), and
    /// sealing stops until [`Visibility::reset`]. Earlier batches carry on.
    /// Ignored for a batch not in flight or whose WAL is already written.
    pub fn wal_failed(
        &mut self,
        batch_id: u64,
        reason: impl Into<String>,
    ) -> Vec<VisibilityEffect> {
        if self.state == State::Fenced {
            return Vec::new();
        }
        let Some(position) = self
            .in_flight
            .iter()
            .position(|batch| batch.batch_id == batch_id && !batch.wal_written)
        else {
            return Vec::new();
        };
        let batch_ids = self
            .in_flight
            .drain(position..)
            .map(|batch| batch.batch_id)
            .collect();
        self.state = State::Halted {
            failed_batch_id: batch_id,
        };
        vec![VisibilityEffect::Failed {
            batch_ids,
            reason: reason.into(),
        }]
    }

    /// The WAL PUT of `batch_id` found its segment already created: a newer
    /// leader has written there, so this coordinator is deposed. Everything
    /// in flight is abandoned, and every later input is ignored.
    pub fn wal_fenced(&mut self, batch_id: u64) -> Vec<VisibilityEffect> {
        // Which write lost does not matter: one lost race is proof enough.
        let _ = batch_id;
        if self.state == State::Fenced {
            return Vec::new();
        }
        self.state = State::Fenced;
        let abandoned_batch_ids = self.in_flight.drain(..).map(|b| b.batch_id).collect();
        vec![VisibilityEffect::Fenced {
            abandoned_batch_ids,
        }]
    }

    /// `member` holds the batch. Acks are per batch, not cumulative, so
    /// safety does not depend on the stream's ordering. Ignored from a
    /// member the batch does not wait for, or for a batch not in flight.
    pub fn acked(&mut self, member: MemberId, batch_id: u64) -> Vec<VisibilityEffect> {
        let removed = self
            .batch_mut(batch_id)
            .is_some_and(|batch| batch.awaiting_acks.remove(&member));
        if removed {
            self.release_ready()
        } else {
            Vec::new()
        }
    }

    /// `member` was evicted (its lease expired, or it was replaced): no
    /// batch waits for it any more. It cannot read anything, since its lease
    /// has run out on its own clock before eviction.
    pub fn member_evicted(&mut self, member: MemberId) -> Vec<VisibilityEffect> {
        if self.state == State::Fenced {
            return Vec::new();
        }
        let mut changed = false;
        for batch in &mut self.in_flight {
            changed |= batch.awaiting_acks.remove(&member);
        }
        if changed {
            self.release_ready()
        } else {
            Vec::new()
        }
    }

    /// `member` joined and the shell has caught it up through
    /// `caught_up_to_lsn` (from memory or `wal/`). It is sent every batch in
    /// flight above that, as pending, but none of them waits for its ack:
    /// they were sealed before it joined, and it serves nothing until its
    /// catch-up reaches the visible LSN. The shell includes it in
    /// `members_now` of the batches sealed from now on. The catch-up must
    /// reach at least [`Visibility::visible_lsn`]: visible batches are no
    /// longer tracked here.
    pub fn member_joined(
        &mut self,
        member: MemberId,
        caught_up_to_lsn: u64,
    ) -> Vec<VisibilityEffect> {
        if self.state == State::Fenced {
            return Vec::new();
        }
        self.in_flight
            .iter()
            .filter(|batch| batch.last_lsn > caught_up_to_lsn)
            .map(|batch| VisibilityEffect::Deliver {
                member,
                batch_id: batch.batch_id,
            })
            .collect()
    }

    /// Time passes (shell clock, ms): ends a new leader's hold once
    /// `now_ms` reaches it, making ready batches visible.
    pub fn tick(&mut self, now_ms: u64) -> Vec<VisibilityEffect> {
        if self.state == State::Fenced {
            return Vec::new();
        }
        match self.hold_until_ms {
            Some(until_ms) if until_ms <= now_ms => {
                self.hold_until_ms = None;
                let mut effects = vec![VisibilityEffect::HoldReleased {
                    visible_lsn: self.visible_lsn,
                }];
                effects.extend(self.release_ready());
                effects
            }
            _ => Vec::new(),
        }
    }

    /// Accepts batches again after a failed WAL write, once the leader has
    /// made sure it still leads and knows where the WAL ends. Batch ids and
    /// LSNs continue above the failed ones.
    pub fn reset(&mut self) -> Result<(), VisibilityError> {
        match self.state {
            State::Fenced => Err(VisibilityError::Fenced),
            State::Accepting | State::Halted { .. } => {
                self.state = State::Accepting;
                Ok(())
            }
        }
    }

    /// The LSN the frontends may be told is visible; `None` while a new
    /// leader's hold lasts, when no one may be told anything yet.
    pub fn visible_lsn(&self) -> Option<u64> {
        match self.hold_until_ms {
            Some(_) => None,
            None => Some(self.visible_lsn),
        }
    }

    pub fn is_holding(&self) -> bool {
        self.hold_until_ms.is_some()
    }

    pub fn is_halted(&self) -> bool {
        matches!(self.state, State::Halted { .. })
    }

    pub fn is_fenced(&self) -> bool {
        self.state == State::Fenced
    }

    /// The batches in flight, oldest first.
    pub fn in_flight(&self) -> Vec<InFlightBatch> {
        self.in_flight
            .iter()
            .map(|batch| InFlightBatch {
                batch_id: batch.batch_id,
                last_lsn: batch.last_lsn,
                wal_written: batch.wal_written,
                awaiting_acks: batch.awaiting_acks.iter().copied().collect(),
            })
            .collect()
    }

    fn batch_mut(&mut self, batch_id: u64) -> Option<&mut Batch> {
        if self.state == State::Fenced {
            return None;
        }
        self.in_flight
            .iter_mut()
            .find(|batch| batch.batch_id == batch_id)
    }

    /// Makes the ready batches at the head of the queue visible, in order.
    fn release_ready(&mut self) -> Vec<VisibilityEffect> {
        let mut effects = Vec::new();
        if self.state == State::Fenced || self.hold_until_ms.is_some() {
            return effects;
        }
        while self.in_flight.front().is_some_and(Batch::is_ready) {
            let Some(batch) = self.in_flight.pop_front() else {
                break;
            };
            self.visible_lsn = batch.last_lsn;
            effects.push(VisibilityEffect::Visible {
                batch_id: batch.batch_id,
                last_lsn: batch.last_lsn,
            });
        }
        effects
    }
}

/// What a transaction starting on a frontend must do about its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotDecision {
    /// Read at this LSN (the highest visible one) now.
    Ready(u64),
    /// The frontend holds something not yet readable: the newest pending
    /// batch, ending at this LSN, or (while catching up) data up to a visible
    /// LSN it has not received yet. Ask again after the next
    /// [`FrontendView::on_visible`] or [`FrontendView::on_deliver`]; the
    /// snapshot will be at least this LSN.
    WaitFor(u64),
}

/// What [`FrontendView::on_deliver`] made of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    /// Apply it as pending (invisible) and ack it.
    Pending,
    /// Apply it as visible at once: a visible notice already covers it (a
    /// catch-up batch).
    AlreadyVisible,
    /// It is at or below what the frontend already holds (a redelivery):
    /// ignore it.
    Duplicate,
}

/// A frontend's side of deliver/visible: the batches it has received but
/// may not read yet, and the snapshot a new transaction may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendView {
    /// The highest LSN the coordinator has said is visible.
    visible_lsn: u64,
    /// The highest LSN received (pending or visible).
    received_lsn: u64,
    /// Received batches above `visible_lsn`: last LSN -> batch id.
    pending: BTreeMap<u64, u64>,
}

impl FrontendView {
    /// A frontend that holds, as visible, everything up to `held_lsn` (what
    /// it loaded from the object store, say).
    pub fn new(held_lsn: u64) -> Self {
        FrontendView {
            visible_lsn: held_lsn,
            received_lsn: held_lsn,
            pending: BTreeMap::new(),
        }
    }

    /// A batch ending at `last_lsn` arrived. Batches arrive in LSN order.
    pub fn on_deliver(&mut self, batch_id: u64, last_lsn: u64) -> Delivered {
        if last_lsn <= self.received_lsn {
            return Delivered::Duplicate;
        }
        self.received_lsn = last_lsn;
        if last_lsn <= self.visible_lsn {
            return Delivered::AlreadyVisible;
        }
        self.pending.insert(last_lsn, batch_id);
        Delivered::Pending
    }

    /// The coordinator says everything up to `lsn` is visible. Returns the
    /// pending batches that became visible, oldest first.
    pub fn on_visible(&mut self, lsn: u64) -> Vec<u64> {
        if lsn <= self.visible_lsn {
            return Vec::new();
        }
        self.visible_lsn = lsn;
        let still_pending = split_above(&mut self.pending, lsn);
        std::mem::replace(&mut self.pending, still_pending)
            .into_values()
            .collect()
    }

    /// The snapshot for a transaction starting now: the highest visible LSN
    /// if nothing received is pending; otherwise wait for the newest pending
    /// batch, which may already be visible on other frontends.
    pub fn snapshot_lsn(&self) -> SnapshotDecision {
        if let Some((&newest_pending_lsn, _)) = self.pending.last_key_value() {
            SnapshotDecision::WaitFor(newest_pending_lsn)
        } else if self.received_lsn < self.visible_lsn {
            // Told of commits it does not hold yet (catching up after a
            // join): reading now would miss them.
            SnapshotDecision::WaitFor(self.visible_lsn)
        } else {
            SnapshotDecision::Ready(self.visible_lsn)
        }
    }

    /// On reconnecting to a new leader whose WAL ends at `durable_lsn`:
    /// drops the pending batches above it, which never became visible and
    /// never will. Returns their ids, oldest first, for the memtable to
    /// drop. Pending batches at or below it are durable and stay pending
    /// until the new leader's visible notice.
    pub fn discard_pending_above(&mut self, durable_lsn: u64) -> Vec<u64> {
        let discarded = split_above(&mut self.pending, durable_lsn);
        self.received_lsn = self.received_lsn.min(durable_lsn.max(self.visible_lsn));
        discarded.into_values().collect()
    }

    pub fn visible_lsn(&self) -> u64 {
        self.visible_lsn
    }

    pub fn received_lsn(&self) -> u64 {
        self.received_lsn
    }

    /// Pending batch ids, oldest first.
    pub fn pending_batch_ids(&self) -> Vec<u64> {
        self.pending.values().copied().collect()
    }
}

/// Removes and returns the entries of `by_lsn` above `lsn`.
fn split_above(by_lsn: &mut BTreeMap<u64, u64>, lsn: u64) -> BTreeMap<u64, u64> {
    match lsn.checked_add(1) {
        Some(first_above) => by_lsn.split_off(&first_above),
        None => BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VisibilityEffect::{Deliver, Failed, Fenced, HoldReleased, Visible};

    fn m(frontend_id: u64) -> MemberId {
        MemberId {
            frontend_id,
            incarnation: frontend_id,
        }
    }

    fn delivers(batch_id: u64, members: &[MemberId]) -> Vec<VisibilityEffect> {
        members
            .iter()
            .map(|&member| Deliver { member, batch_id })
            .collect()
    }

    fn visible(batch_id: u64, last_lsn: u64) -> VisibilityEffect {
        Visible { batch_id, last_lsn }
    }

    /// A coordinator with members 1, 2, 3 and batch 1 (LSNs up to 10) sealed.
    fn one_batch_three_members() -> Visibility {
        let mut v = Visibility::new(0);
        let members = [m(1), m(2), m(3)];
        assert_eq!(v.batch_sealed(1, 10, &members), Ok(delivers(1, &members)));
        v
    }

    #[test]
    fn visible_only_after_the_wal_and_every_ack() {
        let mut v = one_batch_three_members();
        assert_eq!(v.acked(m(1), 1), vec![]);
        assert_eq!(v.wal_written(1), vec![]);
        assert_eq!(v.acked(m(2), 1), vec![]);
        assert_eq!(v.acked(m(2), 1), vec![], "a duplicate ack");
        assert_eq!(v.visible_lsn(), Some(0));
        assert_eq!(
            v.in_flight(),
            vec![InFlightBatch {
                batch_id: 1,
                last_lsn: 10,
                wal_written: true,
                awaiting_acks: vec![m(3)],
            }]
        );
        assert_eq!(v.acked(m(3), 1), vec![visible(1, 10)]);
        assert_eq!(v.visible_lsn(), Some(10));
        assert_eq!(v.in_flight(), vec![]);
        // Late inputs for a visible batch are ignored.
        assert_eq!(v.acked(m(3), 1), vec![]);
        assert_eq!(v.wal_written(1), vec![]);
    }

    #[test]
    fn acks_before_the_wal_wait_for_it() {
        let mut v = one_batch_three_members();
        for member in [m(1), m(2), m(3)] {
            assert_eq!(v.acked(member, 1), vec![]);
        }
        assert_eq!(v.wal_written(1), vec![visible(1, 10)]);
    }

    #[test]
    fn visibility_follows_lsn_order() {
        let mut v = Visibility::new(0);
        let members = [m(1)];
        v.batch_sealed(1, 10, &members).unwrap();
        v.batch_sealed(2, 20, &members).unwrap();
        v.batch_sealed(3, 30, &members).unwrap();
        // Batch 3, then 2, are ready first: they wait for batch 1.
        assert_eq!(v.wal_written(3), vec![]);
        assert_eq!(v.acked(m(1), 3), vec![]);
        assert_eq!(v.wal_written(2), vec![]);
        assert_eq!(v.acked(m(1), 2), vec![]);
        assert_eq!(v.acked(m(1), 1), vec![]);
        assert_eq!(
            v.wal_written(1),
            vec![visible(1, 10), visible(2, 20), visible(3, 30)]
        );
    }

    #[test]
    fn evicting_a_slow_member_lets_the_batch_become_visible() {
        let mut v = one_batch_three_members();
        v.wal_written(1);
        v.acked(m(1), 1);
        v.acked(m(2), 1);
        // Member 3 never acks; once its lease has run out it is evicted.
        assert_eq!(v.member_evicted(m(3)), vec![visible(1, 10)]);
        // Its late ack changes nothing.
        assert_eq!(v.acked(m(3), 1), vec![]);
        assert_eq!(v.member_evicted(m(3)), vec![]);
    }

    #[test]
    fn an_evicted_incarnations_ack_does_not_count_for_its_successor() {
        let mut v = Visibility::new(0);
        let old = MemberId {
            frontend_id: 1,
            incarnation: 1,
        };
        let new = MemberId {
            frontend_id: 1,
            incarnation: 2,
        };
        v.batch_sealed(1, 10, &[new]).unwrap();
        v.wal_written(1);
        assert_eq!(v.acked(old, 1), vec![]);
        assert_eq!(v.acked(new, 1), vec![visible(1, 10)]);
    }

    #[test]
    fn a_joiner_gets_batches_in_flight_but_is_not_waited_for() {
        let mut v = Visibility::new(0);
        v.batch_sealed(1, 10, &[m(1)]).unwrap();
        v.batch_sealed(2, 20, &[m(1)]).unwrap();
        // Caught up from `wal/` through batch 1 already: only batch 2 is sent.
        assert_eq!(v.member_joined(m(4), 10), delivers(2, &[m(4)]));
        v.wal_written(1);
        v.wal_written(2);
        v.acked(m(1), 2);
        assert_eq!(v.acked(m(1), 1), vec![visible(1, 10), visible(2, 20)]);
        // From now on the shell lists it among the members.
        assert_eq!(
            v.batch_sealed(3, 30, &[m(1), m(4)]),
            Ok(delivers(3, &[m(1), m(4)]))
        );
        v.wal_written(3);
        assert_eq!(v.acked(m(1), 3), vec![]);
        assert_eq!(v.acked(m(4), 3), vec![visible(3, 30)]);
    }

    #[test]
    fn a_batch_with_no_members_waits_only_for_the_wal() {
        let mut v = Visibility::new(5);
        assert_eq!(v.batch_sealed(1, 10, &[]), Ok(vec![]));
        assert_eq!(v.wal_written(1), vec![visible(1, 10)]);
    }

    #[test]
    fn a_failed_wal_write_fails_later_batches_and_halts_sealing() {
        let mut v = Visibility::new(0);
        for (batch_id, lsn) in [(1, 10), (2, 20), (3, 30)] {
            v.batch_sealed(batch_id, lsn, &[m(1)]).unwrap();
        }
        v.wal_written(3);
        assert_eq!(
            v.wal_failed(2, "PUT wal/2: retries exhausted"),
            vec![Failed {
                batch_ids: vec![2, 3],
                reason: "PUT wal/2: retries exhausted".into()
            }]
        );
        assert!(v.is_halted());
        assert_eq!(
            v.batch_sealed(4, 40, &[m(1)]),
            Err(VisibilityError::Halted { failed_batch_id: 2 })
        );
        // Batch 1 was before the failure and still completes.
        v.wal_written(1);
        assert_eq!(v.acked(m(1), 1), vec![visible(1, 10)]);
        // Late results for failed batches are ignored.
        assert_eq!(v.acked(m(1), 2), vec![]);
        assert_eq!(v.wal_written(2), vec![]);
        assert_eq!(v.wal_failed(3, "late"), vec![]);
        // After a reset, ids and LSNs carry on above the failed ones.
        assert_eq!(v.reset(), Ok(()));
        assert_eq!(
            v.batch_sealed(3, 35, &[m(1)]),
            Err(VisibilityError::BatchIdNotIncreasing {
                batch_id: 3,
                previous_batch_id: 3
            })
        );
        assert_eq!(
            v.batch_sealed(4, 30, &[m(1)]),
            Err(VisibilityError::LsnNotIncreasing {
                last_lsn: 30,
                previous_lsn: 30
            })
        );
        v.batch_sealed(4, 40, &[m(1)]).unwrap();
        v.wal_written(4);
        assert_eq!(v.acked(m(1), 4), vec![visible(4, 40)]);
    }

    #[test]
    fn a_written_wal_cannot_fail_afterwards() {
        let mut v = one_batch_three_members();
        v.wal_written(1);
        assert_eq!(v.wal_failed(1, "confused"), vec![]);
        assert!(!v.is_halted());
    }

    #[test]
    fn fenced_stops_everything_for_good() {
        let mut v = Visibility::new(0);
        v.batch_sealed(1, 10, &[m(1)]).unwrap();
        v.batch_sealed(2, 20, &[m(1)]).unwrap();
        v.wal_written(1);
        assert_eq!(
            v.wal_fenced(2),
            vec![Fenced {
                abandoned_batch_ids: vec![1, 2]
            }]
        );
        assert!(v.is_fenced());
        // Nothing becomes visible, nothing is accepted.
        assert_eq!(v.acked(m(1), 1), vec![]);
        assert_eq!(v.member_evicted(m(1)), vec![]);
        assert_eq!(v.tick(u64::MAX), vec![]);
        assert_eq!(v.wal_fenced(2), vec![]);
        assert_eq!(v.reset(), Err(VisibilityError::Fenced));
        assert_eq!(v.batch_sealed(3, 30, &[]), Err(VisibilityError::Fenced));
    }

    #[test]
    fn a_new_leader_holds_visibility_until_old_leases_expire() {
        // Took over at 1_000 with the WAL ending at LSN 50; the old leader
        // may have granted leases until 3_500.
        let mut v = Visibility::new(50);
        v.new_leader_hold_until(3_500);
        v.new_leader_hold_until(3_000); // cannot shorten it
        assert!(v.is_holding());
        assert_eq!(v.visible_lsn(), None);

        v.batch_sealed(1, 60, &[m(1)]).unwrap();
        v.wal_written(1);
        assert_eq!(v.acked(m(1), 1), vec![], "ready, but held");
        assert_eq!(v.tick(2_000), vec![]);
        assert_eq!(v.tick(3_499), vec![]);
        assert_eq!(v.visible_lsn(), None);
        assert_eq!(
            v.tick(3_500),
            vec![HoldReleased { visible_lsn: 50 }, visible(1, 60)]
        );
        assert!(!v.is_holding());
        assert_eq!(v.visible_lsn(), Some(60));
        assert_eq!(v.tick(4_000), vec![], "released once");
    }

    #[test]
    fn frontend_waits_for_its_newest_pending_batch() {
        let mut f = FrontendView::new(5);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::Ready(5));
        assert_eq!(f.on_deliver(1, 10), Delivered::Pending);
        assert_eq!(f.on_deliver(2, 20), Delivered::Pending);
        assert_eq!(f.on_deliver(2, 20), Delivered::Duplicate);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::WaitFor(20));
        assert_eq!(f.on_visible(10), vec![1]);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::WaitFor(20));
        assert_eq!(f.on_visible(20), vec![2]);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::Ready(20));
        assert_eq!(
            f.on_visible(15),
            Vec::<u64>::new(),
            "visible never goes back"
        );
        assert_eq!(f.visible_lsn(), 20);
    }

    #[test]
    fn a_catching_up_frontend_waits_for_the_data_it_was_told_is_visible() {
        let mut f = FrontendView::new(0);
        assert_eq!(f.on_visible(30), Vec::<u64>::new());
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::WaitFor(30));
        assert_eq!(f.on_deliver(1, 10), Delivered::AlreadyVisible);
        assert_eq!(f.on_deliver(2, 30), Delivered::AlreadyVisible);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::Ready(30));
        assert_eq!(f.on_deliver(3, 40), Delivered::Pending);
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::WaitFor(40));
    }

    #[test]
    fn a_pending_batch_is_discarded_when_the_leader_changes_before_its_wal_write() {
        // The old leader delivers batches 1 (LSN 10) and 2 (LSN 20); batch
        // 1's WAL write succeeds, batch 2's never completes, and the old
        // leader dies before either is visible.
        let mut old_leader = Visibility::new(0);
        let mut frontend = FrontendView::new(0);
        let f1 = m(1);
        for (batch_id, lsn) in [(1, 10), (2, 20)] {
            assert_eq!(
                old_leader.batch_sealed(batch_id, lsn, &[f1, m(2)]),
                Ok(delivers(batch_id, &[f1, m(2)]))
            );
            assert_eq!(frontend.on_deliver(batch_id, lsn), Delivered::Pending);
            assert_eq!(old_leader.acked(f1, batch_id), vec![]);
        }
        assert_eq!(old_leader.wal_written(1), vec![], "member 2 never acked");
        assert_eq!(frontend.snapshot_lsn(), SnapshotDecision::WaitFor(20));

        // The new leader finds the WAL ending at LSN 10 and holds until the
        // old leases are over. The frontend reconnects and drops batch 2.
        let mut new_leader = Visibility::new(10);
        new_leader.new_leader_hold_until(5_000);
        assert_eq!(frontend.discard_pending_above(10), vec![2]);
        assert_eq!(frontend.pending_batch_ids(), vec![1]);
        assert_eq!(frontend.received_lsn(), 10);
        // Batch 1 is durable but not yet visible: still wait.
        assert_eq!(frontend.snapshot_lsn(), SnapshotDecision::WaitFor(10));

        let f1_again = MemberId {
            frontend_id: 1,
            incarnation: 7,
        };
        assert_eq!(new_leader.member_joined(f1_again, 10), vec![]);
        assert_eq!(
            new_leader.tick(5_000),
            vec![HoldReleased { visible_lsn: 10 }]
        );
        assert_eq!(frontend.on_visible(10), vec![1]);
        assert_eq!(frontend.snapshot_lsn(), SnapshotDecision::Ready(10));

        // LSNs above 10 are reused by the new leader for different commits.
        new_leader.batch_sealed(1, 20, &[f1_again]).unwrap();
        assert_eq!(frontend.on_deliver(1, 20), Delivered::Pending);
    }

    #[test]
    fn discarding_keeps_durable_pending_batches_and_visible_ones() {
        let mut f = FrontendView::new(0);
        f.on_deliver(1, 10);
        f.on_deliver(2, 20);
        f.on_deliver(3, 30);
        f.on_visible(10);
        assert_eq!(f.discard_pending_above(20), vec![3]);
        assert_eq!(f.pending_batch_ids(), vec![2]);
        assert_eq!(f.discard_pending_above(u64::MAX), Vec::<u64>::new());
        assert_eq!(f.discard_pending_above(5), vec![2]);
        assert_eq!(f.received_lsn(), 10, "never below what was visible");
        assert_eq!(f.snapshot_lsn(), SnapshotDecision::Ready(10));
    }
}

//! Frontend membership and leases (DESIGN.md section 2, item 1): who is in the
//! cluster, how long each frontend may serve, and when the coordinator may
//! treat a silent one as dead.
//!
//! Like the lock table it is a deterministic state machine with no I/O and no
//! clock: the shell passes the time (`now_ms`, milliseconds of its own
//! monotonic clock since any origin) and the leader lease into every input and
//! acts on the [`MembershipEffect`]s that come back.
//!
//! The lease rule, and why it is safe without synchronised clocks:
//!
//! 1. The frontend reads its own clock (`sent_at`) and sends a [`Heartbeat`].
//! 2. [`Membership::heartbeat`] grants `lease = min(config.lease, what is left
//!    of the coordinator's own leader lease)` and echoes `sent_at` back in the
//!    [`LeaseGrant`]. The frontend serves queries until `sent_at + lease` on
//!    its own clock (the latest such instant over all its grants).
//! 3. The coordinator counts the same lease from when it *received* the
//!    heartbeat, which is later in real time than when it was sent, and adds
//!    `max_clock_drift_margin` for clocks that run at slightly different
//!    rates. Only after `received_at + lease + margin` has passed does
//!    [`Membership::tick`] evict the frontend: by then the frontend's own
//!    belief in its lease has surely run out, so it no longer serves, and its
//!    transactions can be aborted and its locks released without a
//!    split-brain window.
//!
//! Each [`Membership::join`] starts a new *incarnation* of a frontend id
//! ([`MemberId`]). A rejoin replaces the previous incarnation, whose
//! transactions are then aborted; an evicted incarnation stays evicted, and
//! its heartbeats are answered with an error that tells it to rejoin.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One incarnation of a frontend: its id (chosen by the frontend, and the
/// `frontend` of its transactions' [`crate::locks::TxnId`]s) and the number
/// this coordinator gave it at [`Membership::join`]. Every other protocol
/// (locks, deliver/visible) names members this way so that a message from a
/// replaced or evicted incarnation can never be mistaken for one from the
/// current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId {
    pub frontend_id: u64,
    pub incarnation: u64,
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frontend {} (incarnation {})",
            self.frontend_id, self.incarnation
        )
    }
}

/// Lease lengths. Both are durations of the shell's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipConfig {
    /// The longest lease a heartbeat earns. A dead frontend is noticed after
    /// about this long (plus the margin), so it bounds how long its locks
    /// stay held; too short and a GC pause or a slow network costs a healthy
    /// frontend its transactions.
    pub lease: Duration,
    /// Added to the coordinator's reckoning of every lease before it evicts,
    /// to cover the drift between the frontend's clock and the
    /// coordinator's over one lease (rate, not offset: offsets cancel out
    /// because each side measures only its own intervals).
    pub max_clock_drift_margin: Duration,
    /// How long an evicted incarnation is remembered, so that its late
    /// heartbeats get [`MembershipError::Evicted`] rather than
    /// [`MembershipError::UnknownFrontend`]. Both tell it to rejoin; this
    /// only bounds the memory spent on the clearer message.
    pub remember_evicted_for: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            lease: Duration::from_secs(2),
            max_clock_drift_margin: Duration::from_millis(500),
            remember_evicted_for: Duration::from_secs(600),
        }
    }
}

/// A frontend asks to join. See [`Membership::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub frontend_id: u64,
    /// Where the frontend serves (host:port), for `shoal ctl status`.
    pub address: String,
    /// The highest LSN the frontend already holds (from its caches or an
    /// earlier incarnation); catch-up starts above it.
    pub highest_lsn_held: u64,
}

/// The coordinator's answer to a [`Join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The new incarnation: the frontend puts it in every later message.
    pub member: MemberId,
    /// What the shell must do now (abort a replaced incarnation).
    pub effects: Vec<MembershipEffect>,
}

/// A frontend renews its lease and reports its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub member: MemberId,
    /// The frontend's clock when it sent this heartbeat, in whatever unit it
    /// likes: opaque here, echoed in the [`LeaseGrant`] so the frontend can
    /// count its lease from it without remembering which heartbeat this was.
    pub sent_at: u64,
    /// The snapshot LSN of the oldest transaction the frontend runs, or the
    /// snapshot a transaction starting now would take if it runs none:
    /// compaction keeps every version such a snapshot can read.
    pub oldest_snapshot_lsn: u64,
    /// The highest LSN the frontend has received (pending or visible); for
    /// introspection, like `pg_stat_replication`'s write LSN.
    pub received_lsn: u64,
    /// The highest LSN the frontend has been told is visible.
    pub visible_lsn: u64,
}

/// A lease for the frontend, counted on its own clock from the heartbeat's
/// `sent_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    /// The heartbeat's `sent_at`, echoed.
    pub sent_at: u64,
    /// How long after `sent_at` the frontend may serve. Never more than
    /// [`MembershipConfig::lease`], nor than what was left of the
    /// coordinator's leader lease when it granted this one.
    pub lease: Duration,
}

/// Why an incarnation left the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionCause {
    /// No heartbeat renewed its lease in time.
    LeaseExpired,
    /// The same frontend id joined again (it restarted, or lost its
    /// connection and rejoined): the old incarnation is gone.
    Replaced { by: MemberId },
    /// The frontend said it stopped serving (a clean shutdown).
    Left,
}

/// What the shell must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipEffect {
    /// `member` is out of the cluster for good. Abort its transactions and
    /// release their locks ([`crate::locks::LockTable::release_frontend`]),
    /// and stop waiting for its acks
    /// ([`crate::visibility::Visibility::member_evicted`]). For a
    /// replacement, do this before taking any request from the new
    /// incarnation, because the lock table names transactions by frontend
    /// id only.
    Evict {
        member: MemberId,
        cause: EvictionCause,
    },
}

/// Why a heartbeat earned no lease. Every variant but `NoLeaderLease` means
/// "join again"; the frontend must stop serving when its current lease runs
/// out either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// This coordinator has no record of the frontend id (it never joined
    /// here, perhaps because leadership changed, or it was evicted long ago).
    #[error("frontend {frontend_id} is not a member of this cluster; join first")]
    UnknownFrontend { frontend_id: u64 },
    /// The frontend id has joined again since this incarnation did.
    #[error("{member} was replaced by incarnation {current}; join again")]
    StaleIncarnation { member: MemberId, current: u64 },
    /// This incarnation's lease expired and it was evicted: its transactions
    /// were aborted, so it must not carry on.
    #[error("{member} was evicted after its lease expired; join again")]
    Evicted { member: MemberId },
    /// The coordinator's own leader lease has run out (it may no longer be
    /// the leader), so it cannot vouch for any frontend lease. Retry, here
    /// or at the new leader.
    #[error("{member} lost its event stream; its lease is not renewed; join again")]
    Revoked { member: MemberId },
    #[error("the coordinator's leader lease has expired; no frontend lease granted")]
    NoLeaderLease,
}

/// One row of the future `shoal_cluster_members` view and `shoal ctl status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub member: MemberId,
    pub address: String,
    /// The last instant (shell clock, ms) at which the coordinator still
    /// counts the frontend as live; [`Membership::tick`] evicts it after.
    pub lease_deadline_ms: u64,
    /// When the last heartbeat arrived; `None` before the first.
    pub last_heartbeat_ms: Option<u64>,
    /// As last reported; at join, the highest LSN it held.
    pub received_lsn: u64,
    pub visible_lsn: u64,
    pub oldest_snapshot_lsn: u64,
}

/// The coordinator's table of live frontends and their leases.
#[derive(Debug, Clone)]
pub struct Membership {
    config: MembershipConfig,
    /// Live members by frontend id: at most one incarnation each.
    live: BTreeMap<u64, Member>,
    /// Recently evicted incarnations by frontend id, so their heartbeats get
    /// a precise error. Dropped on rejoin or after `remember_evicted_for`.
    evicted: BTreeMap<u64, EvictedIncarnation>,
    /// The next incarnation number. One counter for all ids, so a number is
    /// never reused by this coordinator even across frontend ids.
    next_incarnation: u64,
}

#[derive(Debug, Clone)]
struct Member {
    incarnation: u64,
    address: String,
    lease_deadline_ms: u64,
    last_heartbeat_ms: Option<u64>,
    received_lsn: u64,
    visible_lsn: u64,
    oldest_snapshot_lsn: u64,
    /// Set by [`Membership::revoke`]: no more renewals; the member stays
    /// until its current lease has surely run out.
    revoked: bool,
}

#[derive(Debug, Clone, Copy)]
struct EvictedIncarnation {
    incarnation: u64,
    evicted_at_ms: u64,
}

impl Membership {
    pub fn new(config: MembershipConfig) -> Self {
        Membership {
            config,
            live: BTreeMap::new(),
            evicted: BTreeMap::new(),
            next_incarnation: 1,
        }
    }

    pub fn config(&self) -> &MembershipConfig {
        &self.config
    }

    /// Registers a new incarnation of `join.frontend_id`, replacing (and
    /// evicting) a live one with that id. The newcomer holds no lease until
    /// its first heartbeat, but it is a member at once, and is evicted if no
    /// heartbeat arrives within one lease plus the margin.
    pub fn join(&mut self, join: Join, now_ms: u64) -> Joined {
        let member = MemberId {
            frontend_id: join.frontend_id,
            incarnation: self.next_incarnation,
        };
        self.next_incarnation += 1;

        let mut effects = Vec::new();
        let previous = self.live.insert(
            join.frontend_id,
            Member {
                incarnation: member.incarnation,
                address: join.address,
                lease_deadline_ms: now_ms
                    .saturating_add(self.lease_ms())
                    .saturating_add(self.margin_ms()),
                last_heartbeat_ms: None,
                received_lsn: join.highest_lsn_held,
                visible_lsn: 0,
                // It cannot take a snapshot older than what it already holds
                // (and it is caught up above it before it serves); its first
                // heartbeat replaces this guess with the truth.
                oldest_snapshot_lsn: join.highest_lsn_held,
                revoked: false,
            },
        );
        if let Some(previous) = previous {
            effects.push(MembershipEffect::Evict {
                member: MemberId {
                    frontend_id: join.frontend_id,
                    incarnation: previous.incarnation,
                },
                cause: EvictionCause::Replaced { by: member },
            });
        }
        self.evicted.remove(&join.frontend_id);
        Joined { member, effects }
    }

    /// Renews `heartbeat.member`'s lease, received at `now_ms`, while this
    /// coordinator's own leader lease lasts until `leader_lease_valid_until_ms`
    /// (same clock). Errors change nothing.
    pub fn heartbeat(
        &mut self,
        heartbeat: Heartbeat,
        now_ms: u64,
        leader_lease_valid_until_ms: u64,
    ) -> Result<LeaseGrant, MembershipError> {
        let lease_ms = self.lease_ms();
        let margin_ms = self.margin_ms();
        let member = self.live_member_mut(heartbeat.member)?;
        if member.revoked {
            return Err(MembershipError::Revoked {
                member: heartbeat.member,
            });
        }

        // A frontend lease must not outlive the leader lease backing it: if
        // this coordinator has been deposed, the new leader waits out only
        // our leader lease (plus clock drift), and must find no frontend
        // still serving on our word by then.
        let remaining_leader_ms = leader_lease_valid_until_ms.saturating_sub(now_ms);
        let granted_ms = lease_ms.min(remaining_leader_ms);
        if granted_ms == 0 {
            return Err(MembershipError::NoLeaderLease);
        }

        // Only ever extend: an earlier grant that the frontend counts from an
        // earlier `sent_at` may still outlast this shorter one (the leader
        // lease was nearly spent), and the frontend serves until the later of
        // the two.
        let deadline_ms = now_ms.saturating_add(granted_ms).saturating_add(margin_ms);
        member.lease_deadline_ms = member.lease_deadline_ms.max(deadline_ms);
        member.last_heartbeat_ms = Some(now_ms);
        member.oldest_snapshot_lsn = heartbeat.oldest_snapshot_lsn;
        member.received_lsn = heartbeat.received_lsn;
        member.visible_lsn = heartbeat.visible_lsn;
        Ok(LeaseGrant {
            sent_at: heartbeat.sent_at,
            lease: Duration::from_millis(granted_ms),
        })
    }

    /// Stops renewing `member`'s lease (its event stream broke or fell
    /// behind): it is evicted by [`Membership::tick`] once the lease it may
    /// still believe in has run out, not before, since until then it may
    /// still serve reads. Returns whether `member` was live.
    pub fn revoke(&mut self, member: MemberId) -> bool {
        match self.live.get_mut(&member.frontend_id) {
            Some(live) if live.incarnation == member.incarnation => {
                live.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Removes `member` at once: it has stopped serving (it said so, after
    /// closing its sessions), so there is no lease left to wait out.
    pub fn leave(&mut self, member: MemberId, now_ms: u64) -> Vec<MembershipEffect> {
        match self.live.get(&member.frontend_id) {
            Some(live) if live.incarnation == member.incarnation => {
                self.evict(member.frontend_id, now_ms, EvictionCause::Left)
            }
            _ => None,
        }
        .into_iter()
        .collect()
    }

    /// Removes the live member with `frontend_id`, remembering its
    /// incarnation as evicted (so its heartbeats get a precise error).
    fn evict(
        &mut self,
        frontend_id: u64,
        now_ms: u64,
        cause: EvictionCause,
    ) -> Option<MembershipEffect> {
        let member = self.live.remove(&frontend_id)?;
        self.evicted.insert(
            frontend_id,
            EvictedIncarnation {
                incarnation: member.incarnation,
                evicted_at_ms: now_ms,
            },
        );
        Some(MembershipEffect::Evict {
            member: MemberId {
                frontend_id,
                incarnation: member.incarnation,
            },
            cause,
        })
    }

    /// Moves every live member's eviction deadline `ms` later: the caller
    /// did not run for that long, so heartbeats sent meanwhile may not have
    /// been read yet. Only ever delays an eviction, which is always safe.
    pub fn postpone(&mut self, ms: u64) {
        for member in self.live.values_mut() {
            member.lease_deadline_ms = member.lease_deadline_ms.saturating_add(ms);
        }
    }

    /// Whether `member` is live and its lease still renewable: only such a
    /// member may subscribe, lock and commit.
    pub fn is_serving(&self, member: MemberId) -> bool {
        self.live
            .get(&member.frontend_id)
            .is_some_and(|m| m.incarnation == member.incarnation && !m.revoked)
    }

    /// Evicts every member whose lease deadline is before `now_ms`, in
    /// frontend id order, and forgets evicted incarnations older than
    /// [`MembershipConfig::remember_evicted_for`].
    pub fn tick(&mut self, now_ms: u64) -> Vec<MembershipEffect> {
        let expired: Vec<u64> = self
            .live
            .iter()
            .filter(|(_, member)| member.lease_deadline_ms < now_ms)
            .map(|(&frontend_id, _)| frontend_id)
            .collect();
        let effects: Vec<MembershipEffect> = expired
            .into_iter()
            .filter_map(|id| self.evict(id, now_ms, EvictionCause::LeaseExpired))
            .collect();

        let remember_ms = duration_ms_ceil(self.config.remember_evicted_for);
        self.evicted
            .retain(|_, evicted| now_ms.saturating_sub(evicted.evicted_at_ms) <= remember_ms);
        effects
    }

    /// The earliest instant at which [`Membership::tick`] will evict someone
    /// (one past the earliest lease deadline), for the shell's timer.
    pub fn next_eviction_ms(&self) -> Option<u64> {
        self.live
            .values()
            .map(|member| member.lease_deadline_ms.saturating_add(1))
            .min()
    }

    /// Whether `member` is the current, live incarnation of its frontend id.
    /// The shell drops acks and requests from anything else.
    pub fn is_live(&self, member: MemberId) -> bool {
        self.live
            .get(&member.frontend_id)
            .is_some_and(|live| live.incarnation == member.incarnation)
    }

    /// The live members, by frontend id: those a sealed batch is delivered
    /// to and must be acked by.
    pub fn live_members(&self) -> Vec<MemberId> {
        self.live
            .iter()
            .map(|(&frontend_id, member)| MemberId {
                frontend_id,
                incarnation: member.incarnation,
            })
            .collect()
    }

    /// Every live member with its lease and progress, by frontend id.
    pub fn members(&self) -> Vec<MemberInfo> {
        self.live
            .iter()
            .map(|(&frontend_id, member)| MemberInfo {
                member: MemberId {
                    frontend_id,
                    incarnation: member.incarnation,
                },
                address: member.address.clone(),
                lease_deadline_ms: member.lease_deadline_ms,
                last_heartbeat_ms: member.last_heartbeat_ms,
                received_lsn: member.received_lsn,
                visible_lsn: member.visible_lsn,
                oldest_snapshot_lsn: member.oldest_snapshot_lsn,
            })
            .collect()
    }

    /// The oldest snapshot any live member reports: compaction may drop a
    /// version only if a newer version of its key is at or below this LSN.
    /// With no members, `default_lsn` (the caller's choice, typically the
    /// visible LSN: every snapshot taken later will be at least that).
    /// Members whose lease has run out but who are not yet evicted still
    /// count, since they may still be reading.
    pub fn gc_lsn(&self, default_lsn: u64) -> u64 {
        self.live
            .values()
            .map(|member| member.oldest_snapshot_lsn)
            .min()
            .unwrap_or(default_lsn)
    }

    fn live_member_mut(&mut self, member: MemberId) -> Result<&mut Member, MembershipError> {
        let evicted = self.evicted.get(&member.frontend_id).copied();
        match self.live.get_mut(&member.frontend_id) {
            Some(live) if live.incarnation == member.incarnation => Ok(live),
            // An older incarnation was replaced; a newer one than the live
            // one was never handed out for this id.
            Some(live) if member.incarnation < live.incarnation => {
                Err(MembershipError::StaleIncarnation {
                    member,
                    current: live.incarnation,
                })
            }
            Some(_) => Err(MembershipError::UnknownFrontend {
                frontend_id: member.frontend_id,
            }),
            None => match evicted {
                Some(evicted) if member.incarnation <= evicted.incarnation => {
                    Err(MembershipError::Evicted { member })
                }
                _ => Err(MembershipError::UnknownFrontend {
                    frontend_id: member.frontend_id,
                }),
            },
        }
    }

    fn lease_ms(&self) -> u64 {
        duration_ms_floor(self.config.lease)
    }

    fn margin_ms(&self) -> u64 {
        duration_ms_ceil(self.config.max_clock_drift_margin)
    }
}

/// Rounds down: a granted lease may only be shorter than configured.
fn duration_ms_floor(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Rounds up: a safety margin may only be longer than configured.
fn duration_ms_ceil(duration: Duration) -> u64 {
    let floor = duration_ms_floor(duration);
    if duration > Duration::from_millis(floor) {
        floor.saturating_add(1)
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE_MS: u64 = 2_000;
    const MARGIN_MS: u64 = 500;
    /// A leader lease far in the future, for tests not about it.
    const LEADER_FOREVER: u64 = u64::MAX;

    fn membership() -> Membership {
        Membership::new(MembershipConfig {
            lease: Duration::from_millis(LEASE_MS),
            max_clock_drift_margin: Duration::from_millis(MARGIN_MS),
            remember_evicted_for: Duration::from_secs(60),
        })
    }

    fn join(membership: &mut Membership, frontend_id: u64, now_ms: u64) -> MemberId {
        let joined = membership.join(
            Join {
                frontend_id,
                address: format!("10.0.0.{frontend_id}:5432"),
                highest_lsn_held: 0,
            },
            now_ms,
        );
        assert_eq!(joined.effects, vec![]);
        joined.member
    }

    fn beat(member: MemberId, sent_at: u64, oldest_snapshot_lsn: u64) -> Heartbeat {
        Heartbeat {
            member,
            sent_at,
            oldest_snapshot_lsn,
            received_lsn: oldest_snapshot_lsn,
            visible_lsn: oldest_snapshot_lsn,
        }
    }

    fn expired(member: MemberId) -> MembershipEffect {
        MembershipEffect::Evict {
            member,
            cause: EvictionCause::LeaseExpired,
        }
    }

    #[test]
    fn grant_echoes_sent_at_and_is_the_configured_lease() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        let grant = m.heartbeat(beat(a, 777, 0), 100, LEADER_FOREVER).unwrap();
        assert_eq!(
            grant,
            LeaseGrant {
                sent_at: 777,
                lease: Duration::from_millis(LEASE_MS)
            }
        );
    }

    #[test]
    fn a_member_that_leaves_is_evicted_at_once_and_only_its_incarnation() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        m.heartbeat(beat(a, 0, 0), 10, LEADER_FOREVER).unwrap();
        // An older incarnation's leave changes nothing.
        let stale = MemberId {
            frontend_id: 1,
            incarnation: a.incarnation + 99,
        };
        assert!(m.leave(stale, 20).is_empty());
        assert!(m.is_live(a));
        assert_eq!(
            m.leave(a, 20),
            vec![MembershipEffect::Evict {
                member: a,
                cause: EvictionCause::Left,
            }]
        );
        assert!(!m.is_live(a));
        // Its heartbeats are told it is gone; a second leave is a no-op.
        assert!(m.heartbeat(beat(a, 30, 0), 30, LEADER_FOREVER).is_err());
        assert!(m.leave(a, 40).is_empty());
    }

    #[test]
    fn postponing_delays_eviction_by_the_stall() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        m.heartbeat(beat(a, 0, 0), 0, LEADER_FOREVER).unwrap();
        let first = m.next_eviction_ms().unwrap();
        m.postpone(5_000);
        assert_eq!(m.next_eviction_ms().unwrap(), first + 5_000);
        assert!(m.tick(first).is_empty());
        assert!(m.tick(first + 4_999).is_empty());
        assert_eq!(m.tick(first + 5_000), vec![expired(a)]);
    }

    #[test]
    fn grants_never_exceed_the_leader_lease() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        // 1.5 s of leader lease left: the grant is cut to it.
        let grant = m.heartbeat(beat(a, 0, 0), 1_000, 2_500).unwrap();
        assert_eq!(grant.lease, Duration::from_millis(1_500));
        // 1 ms left.
        let grant = m.heartbeat(beat(a, 0, 0), 2_499, 2_500).unwrap();
        assert_eq!(grant.lease, Duration::from_millis(1));
        // Nothing left, or past it: no lease at all.
        for now in [2_500, 9_000] {
            assert_eq!(
                m.heartbeat(beat(a, 0, 0), now, 2_500),
                Err(MembershipError::NoLeaderLease)
            );
        }
    }

    #[test]
    fn a_refused_heartbeat_changes_nothing() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        m.heartbeat(beat(a, 0, 5), 100, LEADER_FOREVER).unwrap();
        let before = m.members();
        assert_eq!(
            m.heartbeat(beat(a, 0, 9), 200, 200),
            Err(MembershipError::NoLeaderLease)
        );
        assert_eq!(m.members(), before);
    }

    #[test]
    fn eviction_waits_for_the_conservative_deadline() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        // Sent at (frontend clock) 40, received at 1_000 on ours: the
        // frontend believes its lease until its 2_040, we count to
        // 1_000 + 2_000 + 500.
        m.heartbeat(beat(a, 40, 0), 1_000, LEADER_FOREVER).unwrap();
        assert_eq!(m.members()[0].lease_deadline_ms, 3_500);
        assert_eq!(m.next_eviction_ms(), Some(3_501));
        assert_eq!(m.tick(3_000), vec![]);
        assert_eq!(m.tick(3_500), vec![], "the deadline itself is still live");
        assert!(m.is_live(a));
        assert_eq!(m.tick(3_501), vec![expired(a)]);
        assert!(!m.is_live(a));
        assert_eq!(m.members(), vec![]);
        assert_eq!(m.tick(10_000), vec![], "eviction happens once");
    }

    #[test]
    fn a_shortened_grant_never_pulls_the_deadline_in() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        m.heartbeat(beat(a, 0, 0), 1_000, LEADER_FOREVER).unwrap();
        // The leader lease is nearly spent: a 100 ms grant, but the frontend
        // still holds the earlier, longer one.
        let grant = m.heartbeat(beat(a, 0, 0), 1_200, 1_300).unwrap();
        assert_eq!(grant.lease, Duration::from_millis(100));
        assert_eq!(m.members()[0].lease_deadline_ms, 3_500);
    }

    #[test]
    fn the_eviction_deadline_counts_the_granted_lease_not_the_configured_one() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        m.heartbeat(beat(a, 0, 0), 1_000, 1_300).unwrap();
        // Joined at 0 (deadline 2_500); the 300 ms grant at 1_000 ends
        // earlier than that, so the join deadline stands.
        assert_eq!(m.members()[0].lease_deadline_ms, 2_500);
        m.heartbeat(beat(a, 0, 0), 2_400, 4_000).unwrap();
        assert_eq!(m.members()[0].lease_deadline_ms, 2_400 + 1_600 + MARGIN_MS);
    }

    #[test]
    fn a_member_that_never_heartbeats_is_evicted_after_one_lease() {
        let mut m = membership();
        let a = join(&mut m, 1, 100);
        assert_eq!(m.tick(100 + LEASE_MS + MARGIN_MS), vec![]);
        assert_eq!(m.tick(101 + LEASE_MS + MARGIN_MS), vec![expired(a)]);
    }

    #[test]
    fn heartbeats_keep_a_member_alive() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        let b = join(&mut m, 2, 0);
        for now in (1_000..20_000).step_by(1_000) {
            m.heartbeat(beat(a, now, 0), now, LEADER_FOREVER).unwrap();
            let effects = m.tick(now);
            if now == 3_000 {
                assert_eq!(effects, vec![expired(b)]);
            } else {
                assert_eq!(effects, vec![]);
            }
        }
        assert_eq!(m.live_members(), vec![a]);
    }

    #[test]
    fn unknown_and_evicted_incarnations_are_told_to_rejoin() {
        let mut m = membership();
        let stranger = MemberId {
            frontend_id: 9,
            incarnation: 1,
        };
        assert_eq!(
            m.heartbeat(beat(stranger, 0, 0), 0, LEADER_FOREVER),
            Err(MembershipError::UnknownFrontend { frontend_id: 9 })
        );

        let a = join(&mut m, 1, 0);
        assert_eq!(m.tick(5_000), vec![expired(a)]);
        let err = m.heartbeat(beat(a, 0, 0), 5_001, LEADER_FOREVER);
        assert_eq!(err, Err(MembershipError::Evicted { member: a }));
        assert!(err.unwrap_err().to_string().contains("join again"));

        // Rejoining gives a new incarnation; the old one stays refused.
        let a2 = join(&mut m, 1, 5_002);
        assert_ne!(a2, a);
        assert!(m.heartbeat(beat(a2, 0, 0), 5_003, LEADER_FOREVER).is_ok());
        assert_eq!(
            m.heartbeat(beat(a, 0, 0), 5_004, LEADER_FOREVER),
            Err(MembershipError::StaleIncarnation {
                member: a,
                current: a2.incarnation
            })
        );
        // An incarnation never handed out for this id.
        let forged = MemberId {
            frontend_id: 1,
            incarnation: a2.incarnation + 10,
        };
        assert_eq!(
            m.heartbeat(beat(forged, 0, 0), 5_005, LEADER_FOREVER),
            Err(MembershipError::UnknownFrontend { frontend_id: 1 })
        );
    }

    #[test]
    fn evicted_incarnations_are_forgotten_after_a_while() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        assert_eq!(m.tick(3_000), vec![expired(a)]);
        m.tick(63_000);
        assert_eq!(
            m.heartbeat(beat(a, 0, 0), 63_000, LEADER_FOREVER),
            Err(MembershipError::Evicted { member: a })
        );
        m.tick(63_001);
        assert_eq!(
            m.heartbeat(beat(a, 0, 0), 63_001, LEADER_FOREVER),
            Err(MembershipError::UnknownFrontend { frontend_id: 1 })
        );
    }

    #[test]
    fn a_rejoin_replaces_the_live_incarnation() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        let joined = m.join(
            Join {
                frontend_id: 1,
                address: "10.0.0.99:5432".into(),
                highest_lsn_held: 40,
            },
            1_000,
        );
        let a2 = joined.member;
        assert_eq!(a2.frontend_id, 1);
        assert_eq!(
            joined.effects,
            vec![MembershipEffect::Evict {
                member: a,
                cause: EvictionCause::Replaced { by: a2 }
            }]
        );
        assert!(!m.is_live(a));
        assert!(m.is_live(a2));
        let info = &m.members()[0];
        assert_eq!(info.address, "10.0.0.99:5432");
        assert_eq!(info.received_lsn, 40);
        // The replaced incarnation is not evicted a second time by tick.
        assert_eq!(m.tick(3_000), vec![]);
    }

    #[test]
    fn members_report_progress_from_heartbeats() {
        let mut m = membership();
        let a = join(&mut m, 1, 0);
        let hb = Heartbeat {
            member: a,
            sent_at: 0,
            oldest_snapshot_lsn: 7,
            received_lsn: 12,
            visible_lsn: 10,
        };
        m.heartbeat(hb, 500, LEADER_FOREVER).unwrap();
        assert_eq!(
            m.members(),
            vec![MemberInfo {
                member: a,
                address: "10.0.0.1:5432".into(),
                lease_deadline_ms: 500 + LEASE_MS + MARGIN_MS,
                last_heartbeat_ms: Some(500),
                received_lsn: 12,
                visible_lsn: 10,
                oldest_snapshot_lsn: 7,
            }]
        );
    }

    #[test]
    fn gc_lsn_is_the_oldest_live_snapshot() {
        let mut m = membership();
        assert_eq!(m.gc_lsn(50), 50, "no members: the caller's default");
        let a = join(&mut m, 1, 0);
        let b = join(&mut m, 2, 0);
        m.heartbeat(beat(a, 0, 30), 100, LEADER_FOREVER).unwrap();
        m.heartbeat(beat(b, 0, 20), 100, LEADER_FOREVER).unwrap();
        assert_eq!(m.gc_lsn(50), 20);
        // b's lease runs out but it is not evicted yet: it still counts.
        m.heartbeat(beat(a, 0, 30), 2_000, LEADER_FOREVER).unwrap();
        assert_eq!(m.gc_lsn(50), 20);
        assert_eq!(m.tick(2_601), vec![expired(b)]);
        assert_eq!(m.gc_lsn(50), 30);
        // A newcomer counts from what it holds until it reports.
        m.join(
            Join {
                frontend_id: 3,
                address: String::new(),
                highest_lsn_held: 25,
            },
            2_700,
        );
        assert_eq!(m.gc_lsn(50), 25);
    }

    #[test]
    fn sub_millisecond_config_rounds_the_safe_way() {
        let mut m = Membership::new(MembershipConfig {
            lease: Duration::from_micros(1_999_999),
            max_clock_drift_margin: Duration::from_micros(1),
            remember_evicted_for: Duration::ZERO,
        });
        let a = join(&mut m, 1, 0);
        let grant = m.heartbeat(beat(a, 0, 0), 0, LEADER_FOREVER).unwrap();
        assert_eq!(grant.lease, Duration::from_millis(1_999));
        assert_eq!(m.members()[0].lease_deadline_ms, 1_999 + 1);
    }

    /// One step of a lease script, in real time (which is the
    /// coordinator's clock).
    #[derive(Debug, Clone)]
    enum LeaseStep {
        /// A heartbeat sent `delay_ms` ago arrives, while the leader lease
        /// has `leader_left_ms` to run.
        Heartbeat {
            delay_ms: u64,
            leader_left_ms: u64,
        },
        Advance {
            ms: u64,
        },
    }

    fn lease_step() -> impl proptest::strategy::Strategy<Value = LeaseStep> {
        use proptest::prelude::*;
        prop_oneof![
            (0..1_500u64, 0..3_000u64).prop_map(|(delay_ms, leader_left_ms)| {
                LeaseStep::Heartbeat {
                    delay_ms,
                    leader_left_ms,
                }
            }),
            (0..1_500u64).prop_map(|ms| LeaseStep::Advance { ms }),
        ]
    }

    proptest::proptest! {
        /// With the frontend's clock running anywhere between 20 % slow and
        /// 20 % fast (a 2 s lease then stretches by at most the 500 ms
        /// margin), messages delayed and reordered, and the leader lease
        /// anywhere: no grant exceeds the lease or the leader's remainder,
        /// and the coordinator never evicts while the frontend may still
        /// believe it holds a lease.
        #[test]
        fn eviction_never_precedes_the_frontends_own_lease_end(
            rate_per_mille in 800..=1_200u64,
            steps in proptest::collection::vec(lease_step(), 1..60),
        ) {
            let mut m = membership();
            let a = join(&mut m, 1, 0);
            let mut now_ms = 0;
            // When, in real time, the frontend stops serving: the latest
            // `sent_at + lease` over its grants, read on its own clock.
            // Before the first grant it does not serve at all.
            let mut frontend_lease_end: f64 = 0.0;
            for step in steps {
                match step {
                    LeaseStep::Advance { ms } => now_ms += ms,
                    LeaseStep::Heartbeat { delay_ms, leader_left_ms } => {
                        let sent_real_ms = now_ms.saturating_sub(delay_ms);
                        let sent_at = sent_real_ms * rate_per_mille / 1_000;
                        let hb = beat(a, sent_at, 0);
                        match m.heartbeat(hb, now_ms, now_ms + leader_left_ms) {
                            Ok(grant) => {
                                let granted_ms = grant.lease.as_millis() as u64;
                                proptest::prop_assert!(granted_ms <= LEASE_MS);
                                proptest::prop_assert!(granted_ms <= leader_left_ms);
                                proptest::prop_assert_eq!(grant.sent_at, sent_at);
                                let end = (sent_at + granted_ms) as f64 * 1_000.0
                                    / rate_per_mille as f64;
                                frontend_lease_end = frontend_lease_end.max(end);
                            }
                            Err(MembershipError::NoLeaderLease) => {
                                proptest::prop_assert_eq!(leader_left_ms, 0);
                            }
                            Err(MembershipError::Evicted { .. }) => {}
                            Err(other) => proptest::prop_assert!(false, "{other}"),
                        }
                    }
                }
                for effect in m.tick(now_ms) {
                    proptest::prop_assert_eq!(effect, expired(a));
                    proptest::prop_assert!(
                        frontend_lease_end <= now_ms as f64,
                        "evicted at {now_ms} but the frontend serves until {frontend_lease_end}"
                    );
                }
            }
        }
    }
}

//! Property test of deliver/visible: random interleavings of seals, acks, WAL
//! results, evictions, joins, ticks and resets, checked after every step
//! against a simple model and against the protocol's safety invariants.

use std::collections::BTreeSet;

use proptest::prelude::*;
use shoal_coordinator::membership::MemberId;
use shoal_coordinator::visibility::{Visibility, VisibilityEffect, VisibilityError};

#[derive(Debug, Clone)]
enum Op {
    /// Seal the next batch, for the members live now.
    Seal,
    WalWritten {
        batch: usize,
    },
    WalFailed {
        batch: usize,
    },
    WalFenced {
        batch: usize,
    },
    /// From any member ever known, live or not, for any batch ever sealed.
    Ack {
        member: usize,
        batch: usize,
    },
    Evict {
        member: usize,
    },
    /// A new incarnation joins, caught up to `visible - behind` (clamped).
    Join {
        behind: u64,
    },
    Tick {
        advance_ms: u64,
    },
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    // Weighted so that most scripts make progress and about a third end
    // fenced somewhere.
    prop_oneof![
        40 => Just(Op::Seal),
        30 => (0..8usize).prop_map(|batch| Op::WalWritten { batch }),
        6 => (0..8usize).prop_map(|batch| Op::WalFailed { batch }),
        1 => (0..8usize).prop_map(|batch| Op::WalFenced { batch }),
        80 => (0..8usize, 0..8usize).prop_map(|(member, batch)| Op::Ack { member, batch }),
        8 => (0..8usize).prop_map(|member| Op::Evict { member }),
        8 => (0..25u64).prop_map(|behind| Op::Join { behind }),
        20 => (0..20u64).prop_map(|advance_ms| Op::Tick { advance_ms }),
        8 => Just(Op::Reset),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    InFlight,
    Visible,
    Failed,
    Abandoned,
}

/// What the model knows of one sealed batch.
#[derive(Debug)]
struct ModelBatch {
    batch_id: u64,
    last_lsn: u64,
    members_at_seal: BTreeSet<MemberId>,
    acked: BTreeSet<MemberId>,
    wal_written: bool,
    status: Status,
}

/// The rules of DESIGN.md section 2, written as directly as possible.
#[derive(Debug)]
struct Model {
    batches: Vec<ModelBatch>,
    known_members: Vec<MemberId>,
    live: BTreeSet<MemberId>,
    evicted: BTreeSet<MemberId>,
    halted: bool,
    fenced: bool,
    hold_until_ms: Option<u64>,
    now_ms: u64,
    visible_lsn: u64,
    next_frontend_id: u64,
}

impl Model {
    fn new(hold_until_ms: Option<u64>) -> Self {
        let members: Vec<MemberId> = (1..=3)
            .map(|frontend_id| MemberId {
                frontend_id,
                incarnation: 1,
            })
            .collect();
        Model {
            batches: Vec::new(),
            known_members: members.clone(),
            live: members.into_iter().collect(),
            evicted: BTreeSet::new(),
            halted: false,
            fenced: false,
            hold_until_ms,
            now_ms: 0,
            visible_lsn: 0,
            next_frontend_id: 4,
        }
    }

    fn batch(&self, index: usize) -> Option<&ModelBatch> {
        if self.batches.is_empty() {
            None
        } else {
            Some(&self.batches[index % self.batches.len()])
        }
    }

    /// A batch id: one that was sealed, or one that never was.
    fn batch_id(&self, index: usize) -> u64 {
        self.batch(index).map_or(999, |batch| batch.batch_id)
    }

    fn member(&self, index: usize) -> MemberId {
        self.known_members[index % self.known_members.len()]
    }

    fn in_flight_ids(&self) -> Vec<u64> {
        self.batches
            .iter()
            .filter(|batch| batch.status == Status::InFlight)
            .map(|batch| batch.batch_id)
            .collect()
    }

    fn is_ready(&self, batch: &ModelBatch) -> bool {
        batch.wal_written
            && batch
                .members_at_seal
                .iter()
                .all(|member| batch.acked.contains(member) || self.evicted.contains(member))
    }

    /// Marks visible the ready prefix of the batches in flight; returns
    /// their ids.
    fn release(&mut self) -> Vec<u64> {
        let mut released = Vec::new();
        if self.fenced || self.hold_until_ms.is_some() {
            return released;
        }
        for index in 0..self.batches.len() {
            if self.batches[index].status != Status::InFlight {
                continue;
            }
            if !self.is_ready(&self.batches[index]) {
                break;
            }
            let batch = &mut self.batches[index];
            batch.status = Status::Visible;
            self.visible_lsn = batch.last_lsn;
            released.push(batch.batch_id);
        }
        released
    }

    fn batch_by_id_mut(&mut self, batch_id: u64) -> Option<&mut ModelBatch> {
        self.batches
            .iter_mut()
            .find(|batch| batch.batch_id == batch_id)
    }
}

/// Splits effects into the visible batch ids and the rest.
fn visible_ids(effects: &[VisibilityEffect]) -> Vec<u64> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            VisibilityEffect::Visible { batch_id, .. } => Some(*batch_id),
            _ => None,
        })
        .collect()
}

fn non_visible(effects: &[VisibilityEffect]) -> Vec<VisibilityEffect> {
    effects
        .iter()
        .filter(|effect| !matches!(effect, VisibilityEffect::Visible { .. }))
        .cloned()
        .collect()
}

fn delivers(batch_ids: &[u64], member: MemberId) -> Vec<VisibilityEffect> {
    batch_ids
        .iter()
        .map(|&batch_id| VisibilityEffect::Deliver { member, batch_id })
        .collect()
}

/// Runs one script, checking the machine after every step.
fn run(hold_until_ms: Option<u64>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model::new(hold_until_ms);
    let mut machine = Visibility::new(0);
    if let Some(until_ms) = hold_until_ms {
        machine.new_leader_hold_until(until_ms);
    }
    let mut last_visible_lsn = 0;
    let mut saw_fenced = false;

    for op in ops {
        // Apply the input to both; `expected` holds the effects other than
        // Visible that the model predicts.
        let (effects, expected): (Vec<VisibilityEffect>, Vec<VisibilityEffect>) = match op {
            Op::Seal => {
                let batch_id = model.batches.len() as u64 + 1;
                let last_lsn = batch_id * 10;
                let members: Vec<MemberId> = model.live.iter().copied().collect();
                let result = machine.batch_sealed(batch_id, last_lsn, &members);
                if model.fenced {
                    prop_assert_eq!(result, Err(VisibilityError::Fenced));
                    (vec![], vec![])
                } else if model.halted {
                    let halted = matches!(result, Err(VisibilityError::Halted { .. }));
                    prop_assert!(halted, "sealed while halted: {:?}", result);
                    (vec![], vec![])
                } else {
                    model.batches.push(ModelBatch {
                        batch_id,
                        last_lsn,
                        members_at_seal: model.live.clone(),
                        acked: BTreeSet::new(),
                        wal_written: false,
                        status: Status::InFlight,
                    });
                    let expected = members
                        .iter()
                        .flat_map(|&member| delivers(&[batch_id], member))
                        .collect();
                    (
                        result.map_err(|e| TestCaseError::fail(e.to_string()))?,
                        expected,
                    )
                }
            }
            Op::WalWritten { batch } => {
                let batch_id = model.batch_id(batch);
                if let Some(batch) = model.batch_by_id_mut(batch_id) {
                    if batch.status == Status::InFlight {
                        batch.wal_written = true;
                    }
                }
                (machine.wal_written(batch_id), vec![])
            }
            Op::WalFailed { batch } => {
                let batch_id = model.batch_id(batch);
                let effects = machine.wal_failed(batch_id, "injected");
                let failing = model
                    .batches
                    .iter()
                    .position(|b| {
                        b.batch_id == batch_id && b.status == Status::InFlight && !b.wal_written
                    })
                    .filter(|_| !model.fenced);
                let mut expected = vec![];
                if let Some(position) = failing {
                    let mut batch_ids = vec![];
                    for b in &mut model.batches[position..] {
                        if b.status == Status::InFlight {
                            b.status = Status::Failed;
                            batch_ids.push(b.batch_id);
                        }
                    }
                    model.halted = true;
                    expected.push(VisibilityEffect::Failed {
                        batch_ids,
                        reason: "injected".into(),
                    });
                }
                (effects, expected)
            }
            Op::WalFenced { batch } => {
                let effects = machine.wal_fenced(model.batch_id(batch));
                let mut expected = vec![];
                if !model.fenced {
                    let abandoned_batch_ids = model.in_flight_ids();
                    for b in &mut model.batches {
                        if b.status == Status::InFlight {
                            b.status = Status::Abandoned;
                        }
                    }
                    model.fenced = true;
                    expected.push(VisibilityEffect::Fenced {
                        abandoned_batch_ids,
                    });
                }
                (effects, expected)
            }
            Op::Ack { member, batch } => {
                let member = model.member(member);
                let batch_id = model.batch_id(batch);
                if let Some(batch) = model.batch_by_id_mut(batch_id) {
                    batch.acked.insert(member);
                }
                (machine.acked(member, batch_id), vec![])
            }
            Op::Evict { member } => {
                let member = model.member(member);
                model.live.remove(&member);
                model.evicted.insert(member);
                (machine.member_evicted(member), vec![])
            }
            Op::Join { behind } => {
                let member = MemberId {
                    frontend_id: model.next_frontend_id,
                    incarnation: 1,
                };
                model.next_frontend_id += 1;
                model.known_members.push(member);
                model.live.insert(member);
                let caught_up_to_lsn = model.visible_lsn.saturating_sub(behind);
                let expected = if model.fenced {
                    vec![]
                } else {
                    let ids: Vec<u64> = model
                        .batches
                        .iter()
                        .filter(|b| b.status == Status::InFlight && b.last_lsn > caught_up_to_lsn)
                        .map(|b| b.batch_id)
                        .collect();
                    delivers(&ids, member)
                };
                (machine.member_joined(member, caught_up_to_lsn), expected)
            }
            Op::Tick { advance_ms } => {
                model.now_ms += advance_ms;
                let mut expected = vec![];
                if let Some(until_ms) = model.hold_until_ms {
                    if until_ms <= model.now_ms && !model.fenced {
                        model.hold_until_ms = None;
                        expected.push(VisibilityEffect::HoldReleased {
                            visible_lsn: model.visible_lsn,
                        });
                    }
                }
                (machine.tick(model.now_ms), expected)
            }
            Op::Reset => {
                let result = machine.reset();
                if model.fenced {
                    prop_assert_eq!(result, Err(VisibilityError::Fenced));
                } else {
                    prop_assert_eq!(result, Ok(()));
                    model.halted = false;
                }
                (vec![], vec![])
            }
        };

        // Safety invariants, checked on each Visible effect as it comes.
        if saw_fenced {
            prop_assert!(effects.is_empty(), "effects after Fenced: {effects:?}");
        }
        for effect in &effects {
            match effect {
                VisibilityEffect::Fenced { .. } => saw_fenced = true,
                VisibilityEffect::Visible { batch_id, last_lsn } => {
                    prop_assert!(!saw_fenced, "batch {batch_id} visible after Fenced");
                    prop_assert!(
                        *last_lsn > last_visible_lsn,
                        "visible LSN went from {last_visible_lsn} to {last_lsn}"
                    );
                    last_visible_lsn = *last_lsn;
                    let batch = model
                        .batches
                        .iter()
                        .find(|b| b.batch_id == *batch_id)
                        .expect("a visible batch was sealed");
                    prop_assert!(batch.wal_written, "batch {batch_id} visible before its WAL");
                    for member in &batch.members_at_seal {
                        prop_assert!(
                            batch.acked.contains(member) || model.evicted.contains(member),
                            "batch {batch_id} visible without {member}'s ack"
                        );
                    }
                    prop_assert!(
                        model.hold_until_ms.is_none(),
                        "batch {batch_id} visible during the hold"
                    );
                    prop_assert!(
                        !matches!(batch.status, Status::Failed | Status::Abandoned),
                        "failed batch {batch_id} visible"
                    );
                }
                _ => {}
            }
        }

        // Liveness and exactness: the model's visible batches, no more and
        // no fewer, and the other effects it predicts.
        let released = model.release();
        prop_assert_eq!(visible_ids(&effects), released);
        prop_assert_eq!(non_visible(&effects), expected);
        let expected_visible = model.hold_until_ms.is_none().then_some(model.visible_lsn);
        if !model.fenced {
            prop_assert_eq!(machine.visible_lsn(), expected_visible);
        }
        prop_assert_eq!(
            machine
                .in_flight()
                .iter()
                .map(|b| b.batch_id)
                .collect::<Vec<_>>(),
            model.in_flight_ids()
        );
        prop_assert_eq!(machine.is_fenced(), model.fenced);
        prop_assert_eq!(machine.is_halted(), model.halted && !model.fenced);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn visibility_matches_the_model(
        hold_until_ms in prop::option::of(0..60u64),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(hold_until_ms, ops)?;
    }
}

/// A fixed script exercising every kind of input, so that a change that
/// breaks the model shows up even without the random ones.
#[test]
fn a_scripted_run_matches_the_model() {
    let ops = vec![
        Op::Seal,
        Op::Seal,
        Op::Ack {
            member: 0,
            batch: 0,
        },
        Op::WalWritten { batch: 0 },
        Op::Ack {
            member: 1,
            batch: 0,
        },
        Op::Evict { member: 2 },
        Op::Join { behind: 0 },
        Op::Seal,
        Op::WalWritten { batch: 1 },
        Op::Ack {
            member: 0,
            batch: 1,
        },
        Op::Ack {
            member: 1,
            batch: 1,
        },
        Op::Tick { advance_ms: 30 },
        Op::WalFailed { batch: 2 },
        Op::Seal,
        Op::Reset,
        Op::Seal,
        Op::WalFenced { batch: 3 },
        Op::Seal,
    ];
    run(Some(20), ops).expect("the scripted run matches the model");
}

//! Work leases: how workers on many hosts share the batches. Behaviour every
//! adapter must show, like `contract.rs`.

use std::collections::HashMap;

use scan2dms_core::{Batch, BatchState, Event, RetryPolicy, Stage, step};
use scan2dms_store::*;

use crate::adapters;
use crate::contract::{accepted_result, new_batch, order, running_validation};

const NOW: i64 = 1_000_000;
const LEASE_MS: i64 = 60_000;

/// The state machine's claim, as a worker would pass it.
fn claim_step(row: &BatchRow) -> Result<(Batch, NewEvent), String> {
    let (running, _) = step(&row.batch, NOW, &Event::Claimed, &RetryPolicy::default()).map_err(|e| e.to_string())?;
    let detail = format!("{} (attempt {})", running.state, running.attempts);
    Ok((running, NewEvent::batch(&row.batch_id, "claimed", detail)))
}

fn request<'a>(stages: &'a [Stage], worker_id: &'a str) -> ClaimRequest<'a> {
    ClaimRequest { stages, worker_id, lease_until_ms: NOW + LEASE_MS, claim: &claim_step }
}

fn claim_next(store: &dyn StateStore, stages: &[Stage], worker_id: &str, now_ms: i64) -> Option<String> {
    store.claim_next(&request(stages, worker_id), now_ms).unwrap().map(|row| row.batch_id)
}

fn pending(stage: Stage) -> Batch {
    Batch { state: BatchState::Pending(stage), attempts: 0, not_before_ms: None }
}

/// A registered batch put straight into `state` (the store does not check
/// the state machine's rules; the runtime does).
fn batch_in(store: &dyn StateStore, id: &str, state: &Batch) {
    store.register_batch(&new_batch(id), 1).unwrap();
    if *state != Batch::received() {
        store.transition(id, &Batch::received(), state, &NewEvent::batch(id, "set_up", ""), 1).unwrap();
    }
}

fn event_kinds(store: &dyn StateStore, id: &str) -> Vec<String> {
    store.events(id).unwrap().into_iter().map(|event| event.kind).collect()
}

#[test]
fn claim_next_starts_the_oldest_due_batch_of_the_workers_stages_under_a_lease() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        batch_in(store, "B-1", &Batch::received());
        batch_in(store, "B-2", &Batch { not_before_ms: Some(NOW + 1), ..pending(Stage::Ocr) });
        batch_in(store, "B-3", &pending(Stage::Ocr));
        batch_in(store, "B-4", &pending(Stage::Efile));

        let claimed = store.claim_next(&request(&[Stage::Ocr], "w1"), NOW).unwrap().unwrap();
        assert_eq!(claimed.batch_id, "B-3", "{name}: B-2 is not due yet");
        let running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        assert_eq!(claimed.batch, running, "{name}");
        assert_eq!(claimed.lease, Some(Lease { worker_id: "w1".into(), expires_ms: NOW + LEASE_MS }), "{name}");
        assert_eq!(store.batch("B-3").unwrap().unwrap(), claimed, "{name}: returned as stored");
        let last = store.events("B-3").unwrap().pop().unwrap();
        assert_eq!(
            (last.kind.as_str(), last.detail.as_str(), last.at_ms),
            ("claimed", "ocr_running (attempt 1)", NOW),
            "{name}"
        );

        assert_eq!(claim_next(store, &[Stage::Ocr], "w1", NOW), None, "{name}");
        assert_eq!(claim_next(store, &[Stage::Ocr], "w1", NOW + 1).as_deref(), Some("B-2"), "{name}: now due");
        assert_eq!(claim_next(store, &[], "w1", NOW), None, "{name}: no stages, no work");
        assert_eq!(claim_next(store, &[Stage::Efile, Stage::Validate], "w1", NOW).as_deref(), Some("B-1"), "{name}");
        assert_eq!(claim_next(store, &[Stage::Efile, Stage::Validate], "w1", NOW).as_deref(), Some("B-4"), "{name}");
        assert_eq!(claim_next(store, &Stage::ALL, "w1", NOW), None, "{name}: everything runs");
        assert!(store.batch("B-1").unwrap().unwrap().lease.is_some(), "{name}");
    }
}

#[test]
fn claim_next_validates_one_batch_at_a_time_in_registration_order() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        for id in ["B-1", "B-2", "B-3"] {
            batch_in(store, id, &Batch::received());
        }
        batch_in(store, "B-4", &pending(Stage::Ocr));

        assert_eq!(claim_next(store, &[Stage::Validate], "w1", NOW).as_deref(), Some("B-1"), "{name}");
        assert_eq!(claim_next(store, &[Stage::Validate], "w2", NOW), None, "{name}: B-2 waits for B-1");
        assert_eq!(
            claim_next(store, &[Stage::Validate, Stage::Ocr], "w2", NOW).as_deref(),
            Some("B-4"),
            "{name}: other stages do not wait"
        );

        let validating = store.batch("B-1").unwrap().unwrap().batch;
        let accepted = pending(Stage::Ocr);
        store.transition("B-1", &validating, &accepted, &NewEvent::batch("B-1", "succeeded", ""), NOW).unwrap();
        assert_eq!(claim_next(store, &[Stage::Validate], "w2", NOW).as_deref(), Some("B-2"), "{name}");

        // A validation waiting out a back-off still goes first.
        let running = store.batch("B-2").unwrap().unwrap().batch;
        let (backing_off, _) =
            step(&running, NOW, &Event::Failed { error: "disk full".into() }, &RetryPolicy::default()).unwrap();
        assert!(!backing_off.is_runnable(NOW), "{name}");
        store.transition("B-2", &running, &backing_off, &NewEvent::batch("B-2", "failed", "disk full"), NOW).unwrap();
        assert_eq!(claim_next(store, &[Stage::Validate], "w2", NOW), None, "{name}: B-3 waits for B-2's retry");
        let due = backing_off.not_before_ms.unwrap();
        assert_eq!(claim_next(store, &[Stage::Validate], "w2", due).as_deref(), Some("B-2"), "{name}");
    }
}

#[test]
fn claim_next_skips_a_push_while_a_document_awaits_review() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        let ocr_running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        for (id, needs_review) in [("B-1", true), ("B-2", false)] {
            batch_in(store, id, &ocr_running);
            let document = DocumentRecord {
                batch_id: id.into(),
                record_id: "PN-000001".into(),
                document_no: 1,
                state: "ocr_done".into(),
                page_nos: vec![1],
                efile: None,
                dms: None,
                classification: Some(Classification {
                    doc_type: "zeugnis".into(),
                    confidence: if needs_review { 0.4 } else { 0.99 },
                    needs_review,
                    fields: Default::default(),
                }),
                review: None,
            };
            let outcome = OcrOutcome { pages: vec![], documents: vec![document], warnings: vec![] };
            store.finish_ocr(id, &ocr_running, &pending(Stage::Push), &outcome, 2).unwrap();
        }

        assert_eq!(claim_next(store, &[Stage::Push], "w1", NOW).as_deref(), Some("B-2"), "{name}");
        assert_eq!(claim_next(store, &[Stage::Push], "w1", NOW), None, "{name}: B-1 waits for a person");
        store.decide_review("B-1", "PN-000001", 1, "beurteilung", "staff:anna", 3).unwrap();
        assert_eq!(claim_next(store, &[Stage::Push], "w1", NOW).as_deref(), Some("B-1"), "{name}");
    }
}

#[test]
fn a_refused_claim_writes_nothing() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        batch_in(store, "B-1", &Batch::received());
        let before = store.batch("B-1").unwrap().unwrap();
        let refuse = |_: &BatchRow| -> Result<(Batch, NewEvent), String> { Err("not today".into()) };
        let not_running = |row: &BatchRow| -> Result<(Batch, NewEvent), String> {
            Ok((
                Batch { state: BatchState::Done, attempts: 0, not_before_ms: None },
                NewEvent::batch(&row.batch_id, "x", ""),
            ))
        };
        let other_batch = |row: &BatchRow| -> Result<(Batch, NewEvent), String> {
            let (running, _) = claim_step(row)?;
            Ok((running, NewEvent::batch("B-9", "claimed", "")))
        };
        for (claim, says) in
            [(&refuse as &ClaimStep, "not today"), (&not_running, "not running"), (&other_batch, "logged to batch B-9")]
        {
            let request = ClaimRequest { stages: &[Stage::Validate], worker_id: "w1", lease_until_ms: NOW, claim };
            match store.claim_next(&request, NOW) {
                Err(error @ StoreError::ClaimRefused { .. }) => {
                    let message = error.to_string();
                    assert!(message.contains("B-1") && message.contains(says), "{name}: {message}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!(store.batch("B-1").unwrap().unwrap(), before, "{name}");
        assert_eq!(event_kinds(store, "B-1"), ["registered"], "{name}");
        assert!(store.events("B-9").unwrap().is_empty(), "{name}");
    }
}

#[test]
fn concurrent_claimers_never_get_the_same_batch() {
    const WORKERS: usize = 8;
    const BATCHES: usize = 64;
    for (name, store, _dir) in adapters() {
        let store = &*store;
        let ids: Vec<String> = (0..BATCHES).map(|index| format!("B-{index}")).collect();
        for id in &ids {
            batch_in(store, id, &pending(Stage::Ocr));
        }
        let claimed: Vec<(String, String)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|worker| {
                    scope.spawn(move || {
                        let worker_id = format!("w{worker}");
                        let mut mine = Vec::new();
                        while let Some(id) = claim_next(store, &[Stage::Ocr], &worker_id, NOW) {
                            mine.push((id, worker_id.clone()));
                        }
                        mine
                    })
                })
                .collect();
            workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect()
        });
        let mut owners: HashMap<String, String> = HashMap::new();
        for (id, worker_id) in &claimed {
            assert!(owners.insert(id.clone(), worker_id.clone()).is_none(), "{name}: {id} claimed twice");
        }
        assert_eq!(owners.len(), BATCHES, "{name}: every batch claimed");
        for id in &ids {
            let row = store.batch(id).unwrap().unwrap();
            assert_eq!(row.batch.attempts, 1, "{name}: {id}");
            assert_eq!(row.lease.map(|lease| lease.worker_id).as_ref(), owners.get(id), "{name}: {id}");
            assert_eq!(event_kinds(store, id), ["registered", "set_up", "claimed"], "{name}: {id}");
        }
    }
}

#[test]
fn a_lease_is_renewed_by_its_owner_only_and_while_it_runs() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        batch_in(store, "B-1", &pending(Stage::Ocr));
        let claimed = store.claim_next(&request(&[Stage::Ocr], "w1"), NOW).unwrap().unwrap();
        assert!(!store.renew_lease("B-1", "w2", NOW + 2 * LEASE_MS).unwrap(), "{name}: not w2's");
        assert!(store.renew_lease("B-1", "w1", NOW + 2 * LEASE_MS).unwrap(), "{name}");
        let lease = store.batch("B-1").unwrap().unwrap().lease.unwrap();
        assert_eq!(lease, Lease { worker_id: "w1".into(), expires_ms: NOW + 2 * LEASE_MS }, "{name}");
        assert!(!store.renew_lease("B-9", "w1", NOW).unwrap(), "{name}: no such batch");

        // w1 goes silent; its lease runs out and w2 takes the batch over.
        let later = NOW + 3 * LEASE_MS;
        take_over(store, "B-1", later);
        assert!(!store.renew_lease("B-1", "w1", later + LEASE_MS).unwrap(), "{name}: w1 lost it");
        let request = ClaimRequest { lease_until_ms: later + 10 * LEASE_MS, ..request(&[Stage::Ocr], "w2") };
        let retaken = store.claim_next(&request, later + 10 * LEASE_MS).unwrap().unwrap();
        assert_eq!(retaken.batch.attempts, claimed.batch.attempts + 1, "{name}");
        assert!(!store.renew_lease("B-1", "w1", later + LEASE_MS).unwrap(), "{name}: still w2's");
        assert!(store.renew_lease("B-1", "w2", later + 20 * LEASE_MS).unwrap(), "{name}");

        // A finished run has no lease to renew.
        store
            .transition("B-1", &retaken.batch, &pending(Stage::Efile), &NewEvent::batch("B-1", "succeeded", ""), later)
            .unwrap();
        assert!(!store.renew_lease("B-1", "w2", later + 30 * LEASE_MS).unwrap(), "{name}");
    }
}

/// What a worker does with a batch whose lease ran out: interrupt it, as
/// the state machine says, so it can be claimed again.
fn take_over(store: &dyn StateStore, batch_id: &str, now_ms: i64) {
    let expired = store.expired_leases(now_ms).unwrap();
    let row = expired.iter().find(|row| row.batch_id == batch_id).expect("lease expired");
    let (interrupted, _) = step(&row.batch, now_ms, &Event::Interrupted, &RetryPolicy::default()).unwrap();
    let event = NewEvent::batch(batch_id, "interrupted", "lease expired");
    store.transition(batch_id, &row.batch, &interrupted, &event, now_ms).unwrap();
}

#[test]
fn expired_leases_lists_running_batches_whose_lease_ran_out_or_that_have_none() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        for id in ["B-1", "B-2", "B-4"] {
            batch_in(store, id, &pending(Stage::Ocr));
        }
        // Started before leases existed: running, no lease.
        batch_in(store, "B-3", &Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None });
        for (worker_id, until) in [("w1", NOW + 10), ("w2", NOW + 1_000)] {
            let request = ClaimRequest { lease_until_ms: until, ..request(&[Stage::Ocr], worker_id) };
            store.claim_next(&request, NOW).unwrap().unwrap();
        }
        let expired = |now_ms: i64| -> Vec<String> {
            store.expired_leases(now_ms).unwrap().into_iter().map(|row| row.batch_id).collect()
        };
        assert_eq!(expired(NOW), ["B-3"], "{name}");
        assert_eq!(expired(NOW + 10), ["B-3"], "{name}: expires at, not before");
        assert_eq!(expired(NOW + 11), ["B-1", "B-3"], "{name}");
        assert_eq!(expired(NOW + 5_000), ["B-1", "B-2", "B-3"], "{name}: B-4 is not running");
        assert_eq!(store.expired_leases(NOW + 11).unwrap()[0].lease.as_ref().unwrap().worker_id, "w1", "{name}");
    }
}

#[test]
fn every_way_out_of_running_ends_the_lease() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        store.import_order(&order(&[("PN-000001", "A")]), 1).unwrap();
        let claim = |stage: Stage, id: &str| -> Batch {
            let row = store.claim_next(&request(&[stage], "w1"), NOW).unwrap().unwrap();
            assert_eq!(row.batch_id, id, "{name}: {stage}");
            assert!(row.lease.is_some(), "{name}: {stage}");
            row.batch
        };
        let lease = |id: &str| store.batch(id).unwrap().unwrap().lease;

        batch_in(store, "B-1", &pending(Stage::Ocr));
        let running = claim(Stage::Ocr, "B-1");
        let gave_up = Batch { state: BatchState::Failed(Stage::Ocr), attempts: 1, not_before_ms: None };
        store
            .transition("B-1", &running, &gave_up, &NewEvent::batch("B-1", "failed", "tesseract crashed"), NOW)
            .unwrap();
        assert_eq!(lease("B-1"), None, "{name}: transition");

        batch_in(store, "B-2", &Batch::received());
        let running = claim(Stage::Validate, "B-2");
        assert_eq!(running, running_validation(), "{name}");
        let result = accepted_result("B-2", &["PN-000001"]);
        store.finish_validation("B-2", &running, &pending(Stage::Ocr), &result, NOW).unwrap();
        assert_eq!(lease("B-2"), None, "{name}: finish_validation");

        let running = claim(Stage::Ocr, "B-2");
        let document = DocumentRecord {
            batch_id: "B-2".into(),
            record_id: "PN-000001".into(),
            document_no: 1,
            state: "ocr_done".into(),
            page_nos: vec![1],
            efile: None,
            dms: None,
            classification: None,
            review: None,
        };
        let outcome = OcrOutcome { pages: vec![], documents: vec![document], warnings: vec![] };
        store.finish_ocr("B-2", &running, &pending(Stage::Efile), &outcome, NOW).unwrap();
        assert_eq!(lease("B-2"), None, "{name}: finish_ocr");

        let running = claim(Stage::Efile, "B-2");
        let efile = EfileRecord { path: "x.pdf".into(), sha256: "cd".repeat(32), bytes: 1 };
        store.finish_efiles("B-2", &running, &pending(Stage::Push), &[("PN-000001".into(), 1, efile)], NOW).unwrap();
        assert_eq!(lease("B-2"), None, "{name}: finish_efiles");

        let running = claim(Stage::Push, "B-2");
        store
            .finish_push("B-2", &running, &pending(Stage::Verify), &[("PN-000001".into(), 1, "4711".into())], NOW)
            .unwrap();
        assert_eq!(lease("B-2"), None, "{name}: finish_push");

        let running = claim(Stage::Verify, "B-2");
        let done = Batch { state: BatchState::Done, attempts: 0, not_before_ms: None };
        store.finish_verify("B-2", &running, &done, &[("PN-000001".into(), 1)], NOW).unwrap();
        assert_eq!(lease("B-2"), None, "{name}: finish_verify");
        assert!(store.expired_leases(i64::MAX).unwrap().is_empty(), "{name}: nothing runs");
    }
}

#[test]
fn a_stale_worker_cannot_write_over_a_batch_taken_over() {
    for (name, store, _dir) in adapters() {
        let store = &*store;
        batch_in(store, "B-1", &pending(Stage::Ocr));
        let stale = store.claim_next(&request(&[Stage::Ocr], "w1"), NOW).unwrap().unwrap().batch;

        let later = NOW + 2 * LEASE_MS;
        take_over(store, "B-1", later);
        let due = store.batch("B-1").unwrap().unwrap().batch.not_before_ms.unwrap_or(later);
        let request = ClaimRequest { lease_until_ms: due + LEASE_MS, ..request(&[Stage::Ocr], "w2") };
        let current = store.claim_next(&request, due).unwrap().unwrap();
        assert_eq!(current.batch.state, stale.state, "{name}: running the same stage again");
        assert_ne!(current.batch.attempts, stale.attempts, "{name}");

        // w1 wakes up and reports, first a result, then a failure.
        let outcome = OcrOutcome { pages: vec![], documents: vec![], warnings: vec![] };
        let finished = store.finish_ocr("B-1", &stale, &pending(Stage::Efile), &outcome, due + 1);
        assert!(matches!(finished, Err(StoreError::Conflict { .. })), "{name}: {finished:?}");
        let failed = NewEvent::batch("B-1", "failed", "w1 gave up");
        let transition = store.transition("B-1", &stale, &pending(Stage::Ocr), &failed, due + 1);
        assert!(matches!(transition, Err(StoreError::Conflict { .. })), "{name}: {transition:?}");

        assert_eq!(store.batch("B-1").unwrap().unwrap(), current, "{name}: still w2's run");
        assert_eq!(event_kinds(store, "B-1"), ["registered", "set_up", "claimed", "interrupted", "claimed"], "{name}");
    }
}

#[test]
fn only_the_postgres_store_is_shared() {
    for (name, store, _dir) in adapters() {
        assert_eq!(store.is_shared(), name.starts_with("postgres"), "{name}");
    }
}

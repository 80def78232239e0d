//! Event transcripts through the batch lifecycle: each test feeds events to
//! [`step`] and compares the rendered path with a snapshot.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod documents;

use expect_test::{Expect, expect};
use scan2dms_core::{Batch, BatchState, Event, RetryPolicy, Stage, StageOutcome, step};

const POLICY: RetryPolicy = RetryPolicy { max_attempts: 2, backoff_base_ms: 1_000, backoff_max_ms: 60_000 };

fn check(start: Batch, events: &[(i64, Event)], expect: Expect) {
    let mut batch = start;
    let mut transcript = format!("start {}\n", batch.state);
    for (now_ms, event) in events {
        match step(&batch, *now_ms, event, &POLICY) {
            Ok((next, effects)) => {
                let mut line = format!("t={now_ms} {event:?} -> {}", next.state);
                line.push_str(&format!(" attempts={}", next.attempts));
                if let Some(at) = next.not_before_ms {
                    line.push_str(&format!(" not_before={at}"));
                }
                if !effects.is_empty() {
                    line.push_str(&format!(" effects={effects:?}"));
                }
                transcript.push_str(&line);
                transcript.push('\n');
                batch = next;
            }
            Err(error) => transcript.push_str(&format!("t={now_ms} {error}\n")),
        }
    }
    expect.assert_eq(&transcript);
}

fn run_stage(now_ms: i64) -> [(i64, Event); 2] {
    [(now_ms, Event::Claimed), (now_ms, Event::Succeeded(StageOutcome::Completed))]
}

#[test]
fn accepted_batch_runs_every_stage_to_done() {
    let mut events = vec![(0, Event::Claimed), (1, Event::Succeeded(StageOutcome::Accepted))];
    for t in 2..6 {
        events.extend(run_stage(t));
    }
    check(
        Batch::received(),
        &events,
        expect![[r#"
            start received
            t=0 Claimed -> validating attempts=1 effects=[RunStage(Validate)]
            t=1 Succeeded(Accepted) -> accepted attempts=0 effects=[PublishReport]
            t=2 Claimed -> ocr_running attempts=1 effects=[RunStage(Ocr)]
            t=2 Succeeded(Completed) -> efile_pending attempts=0
            t=3 Claimed -> efile_running attempts=1 effects=[RunStage(Efile)]
            t=3 Succeeded(Completed) -> push_pending attempts=0
            t=4 Claimed -> push_running attempts=1 effects=[RunStage(Push)]
            t=4 Succeeded(Completed) -> verify_pending attempts=0
            t=5 Claimed -> verify_running attempts=1 effects=[RunStage(Verify)]
            t=5 Succeeded(Completed) -> done attempts=0
        "#]],
    );
}

#[test]
fn rejected_batch_stops_and_can_be_validated_again() {
    check(
        Batch::received(),
        &[
            (0, Event::Claimed),
            (1, Event::Succeeded(StageOutcome::Rejected)),
            (2, Event::Claimed),
            (3, Event::RetryRequested { from: Some(Stage::Ocr) }),
            (4, Event::RetryRequested { from: None }),
        ],
        expect![[r#"
            start received
            t=0 Claimed -> validating attempts=1 effects=[RunStage(Validate)]
            t=1 Succeeded(Rejected) -> rejected attempts=1 effects=[PublishReport]
            t=2 event Claimed is not allowed in state rejected
            t=3 event RetryRequested { from: Some(Ocr) } is not allowed in state rejected
            t=4 RetryRequested { from: None } -> received attempts=0
        "#]],
    );
}

#[test]
fn failures_back_off_then_wait_for_an_operator() {
    check(
        Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None },
        &[
            (0, Event::Claimed),
            (10, Event::Failed { error: "tesseract timed out".into() }),
            (1_010, Event::Claimed),
            (1_020, Event::Failed { error: "tesseract timed out".into() }),
            (1_030, Event::Claimed),
            (1_040, Event::RetryRequested { from: Some(Stage::Push) }),
            (1_050, Event::RetryRequested { from: None }),
            (1_060, Event::Claimed),
        ],
        expect![[r#"
            start accepted
            t=0 Claimed -> ocr_running attempts=1 effects=[RunStage(Ocr)]
            t=10 Failed { error: "tesseract timed out" } -> accepted attempts=1 not_before=1010 effects=[ScheduleRetry { at_ms: 1010 }]
            t=1010 Claimed -> ocr_running attempts=2 effects=[RunStage(Ocr)]
            t=1020 Failed { error: "tesseract timed out" } -> ocr_failed attempts=2 effects=[AlertOperator { stage: Ocr, error: "tesseract timed out" }]
            t=1030 event Claimed is not allowed in state ocr_failed
            t=1040 event RetryRequested { from: Some(Push) } is not allowed in state ocr_failed
            t=1050 RetryRequested { from: None } -> accepted attempts=0
            t=1060 Claimed -> ocr_running attempts=1 effects=[RunStage(Ocr)]
        "#]],
    );
}

#[test]
fn a_crash_while_running_counts_as_an_attempt_and_resumes_the_same_stage() {
    check(
        Batch::received(),
        &[
            (0, Event::Claimed),
            (5, Event::Interrupted),
            (1_005, Event::Claimed),
            (1_006, Event::Succeeded(StageOutcome::Accepted)),
            (1_007, Event::Interrupted),
        ],
        expect![[r#"
            start received
            t=0 Claimed -> validating attempts=1 effects=[RunStage(Validate)]
            t=5 Interrupted -> received attempts=1 not_before=1005 effects=[ScheduleRetry { at_ms: 1005 }]
            t=1005 Claimed -> validating attempts=2 effects=[RunStage(Validate)]
            t=1006 Succeeded(Accepted) -> accepted attempts=0 effects=[PublishReport]
            t=1007 event Interrupted is not allowed in state accepted
        "#]],
    );
}

#[test]
fn a_done_batch_can_be_pushed_again_but_not_revalidated() {
    check(
        Batch { state: BatchState::Done, attempts: 0, not_before_ms: None },
        &[
            (0, Event::RetryRequested { from: Some(Stage::Validate) }),
            (1, Event::RetryRequested { from: Some(Stage::Push) }),
        ],
        expect![[r#"
            start done
            t=0 event RetryRequested { from: Some(Validate) } is not allowed in state done
            t=1 RetryRequested { from: Some(Push) } -> push_pending attempts=0
        "#]],
    );
}

#[test]
fn state_names_round_trip() {
    for state in BatchState::all() {
        assert_eq!(state.name().parse::<BatchState>(), Ok(state));
    }
    assert!("validating".parse::<BatchState>().is_ok_and(|state| state == BatchState::Running(Stage::Validate)));
    assert!("bogus".parse::<BatchState>().is_err());
}

#[test]
fn a_pending_batch_is_runnable_only_after_its_backoff() {
    let batch = Batch { state: BatchState::RECEIVED, attempts: 1, not_before_ms: Some(100) };
    assert!(!batch.is_runnable(99));
    assert!(batch.is_runnable(100));
    assert_eq!(POLICY.backoff_ms(1), 1_000);
    assert_eq!(POLICY.backoff_ms(3), 4_000);
    assert_eq!(POLICY.backoff_ms(40), 60_000);
}

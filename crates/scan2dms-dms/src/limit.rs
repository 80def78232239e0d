//! Client-side limits: a token bucket for the request rate and a counting
//! semaphore for the requests in flight.
//!
//! Both block the calling thread, like the rest of the client. Neither is
//! fair in a strict sense; the bucket hands out reservations in call order,
//! the semaphore wakes whichever waiter the condition variable picks.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// At most `rate` requests per second on average, bursts up to `rate`
/// (at least one).
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    capacity: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// `rate` must be positive and finite.
    pub(crate) fn new(rate: f64) -> TokenBucket {
        let capacity = rate.max(1.0);
        TokenBucket { rate, capacity, state: Mutex::new(BucketState { tokens: capacity, refilled_at: Instant::now() }) }
    }

    /// Takes one token, sleeping until it is due. A caller reserves its token
    /// under the lock (the count may go negative) and sleeps outside it, so
    /// waiters are served in the order they came.
    pub(crate) fn take(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Reserves a token at `now` and returns how long to wait for it.
    fn reserve(&self, now: Instant) -> Duration {
        let mut state = lock(&self.state);
        let elapsed = now.saturating_duration_since(state.refilled_at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.capacity);
        state.refilled_at = state.refilled_at.max(now);
        state.tokens -= 1.0;
        if state.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-state.tokens / self.rate) }
    }
}

/// A counting semaphore; a [`Slot`] gives its place back when dropped.
#[derive(Debug)]
pub(crate) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

#[derive(Debug)]
pub(crate) struct Slot<'a> {
    slots: &'a Slots,
}

impl Slots {
    /// `count` must be at least one.
    pub(crate) fn new(count: usize) -> Slots {
        Slots { free: Mutex::new(count), freed: Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> Slot<'_> {
        let mut free = lock(&self.free);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot { slots: self }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *lock(&self.slots.free) += 1;
        self.slots.freed.notify_one();
    }
}

/// The counters stay consistent even if a holder panicked, so a poisoned
/// lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn slots_never_let_more_than_their_count_in() {
        let slots = Arc::new(Slots::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (slots, inside, most) = (slots.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let _slot = slots.acquire();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert_eq!(*lock(&slots.free), 2);
    }

    #[test]
    fn a_bucket_lets_its_burst_through_and_then_spaces_the_rest() {
        let bucket = TokenBucket::new(10.0);
        let start = lock(&bucket.state).refilled_at;
        let waits: Vec<u128> = (0..12).map(|_| bucket.reserve(start).as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 200]);
        // A second later ten tokens came back, two of which were owed.
        let waits: Vec<u128> = (0..9).map(|_| bucket.reserve(start + Duration::from_secs(1)).as_millis()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 0, 0, 0, 100]);
    }
}

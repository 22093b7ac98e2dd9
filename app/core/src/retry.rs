//! The one retry loop: how many attempts, how long to back off between them, and which failures
//! are worth another try. Downloads, small HTTP files and renames that Windows refuses for a
//! moment all go through it.

use std::thread;
use std::time::Duration;

/// How hard to try before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
        }
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<E> {
    /// Worth another try; the text says why it failed, for the log and the final error.
    Transient(String),
    /// Not worth another try.
    Fatal(E),
}

/// Why [`Retry::run`] gave up.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// Every attempt failed transiently; `last` is the last one's reason.
    Exhausted {
        attempts: u32,
        last: String,
    },
    Fatal(E),
}

impl Retry {
    /// Runs `attempt` (given its number, from 1) until it succeeds, fails fatally, or the
    /// attempts run out, backing off (doubling from `first_backoff`) between attempts.
    pub fn run<T, E>(
        &self,
        what: &str,
        mut attempt: impl FnMut(u32) -> Result<T, Attempt<E>>,
    ) -> Result<T, GaveUp<E>> {
        let attempts = self.attempts.max(1);
        let mut last = String::new();
        for number in 1..=attempts {
            match attempt(number) {
                Ok(value) => return Ok(value),
                Err(Attempt::Fatal(e)) => return Err(GaveUp::Fatal(e)),
                Err(Attempt::Transient(why)) => {
                    tracing::warn!("{what} failed ({why}); attempt {number} of {attempts}");
                    last = why;
                    if number < attempts {
                        thread::sleep(self.backoff(number));
                    }
                }
            }
        }
        Err(GaveUp::Exhausted { attempts, last })
    }

    /// The wait after attempt `number` (from 1).
    fn backoff(&self, number: u32) -> Duration {
        self.first_backoff
            .saturating_mul(1 << (number - 1).min(16))
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(attempts: u32) -> Retry {
        Retry {
            attempts,
            first_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    #[test]
    fn retries_transient_failures_until_one_succeeds() {
        let result: Result<u32, GaveUp<()>> = quick(5).run("test", |n| {
            if n < 3 {
                Err(Attempt::Transient(format!("try {n}")))
            } else {
                Ok(n)
            }
        });
        assert_eq!(result.ok(), Some(3));
    }

    #[test]
    fn stops_at_a_fatal_failure_and_after_the_last_attempt() {
        let mut calls = 0;
        let fatal: Result<(), GaveUp<&str>> = quick(5).run("test", |_| {
            calls += 1;
            Err(Attempt::Fatal("no"))
        });
        assert!(matches!(fatal, Err(GaveUp::Fatal("no"))));
        assert_eq!(calls, 1);
        let exhausted: Result<(), GaveUp<()>> =
            quick(3).run("test", |n| Err(Attempt::Transient(format!("try {n}"))));
        match exhausted {
            Err(GaveUp::Exhausted { attempts, last }) => {
                assert_eq!((attempts, last.as_str()), (3, "try 3"));
            }
            other => panic!("expected exhaustion, got {other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let retry = Retry::default();
        assert_eq!(retry.backoff(1), Duration::from_millis(250));
        assert_eq!(retry.backoff(2), Duration::from_millis(500));
        assert_eq!(retry.backoff(9), Duration::from_secs(4));
        assert_eq!(retry.backoff(u32::MAX), Duration::from_secs(4));
    }
}

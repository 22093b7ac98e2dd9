//! The updater's worker threads, in one place: every one is named (so that a hang or a crash
//! report says which), and a panic in one is an error of the work it was doing, never a crash of
//! the updater.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

/// A named thread doing one piece of work in the background; [`Worker::join`] gives its result.
#[derive(Debug)]
pub struct Worker<R> {
    handle: JoinHandle<R>,
}

/// Starts `work` on a thread named `name`.
pub fn spawn<R: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> R + Send + 'static,
) -> io::Result<Worker<R>> {
    #[allow(clippy::disallowed_methods)] // the one place threads are started
    let handle = thread::Builder::new().name(name.to_string()).spawn(work)?;
    Ok(Worker { handle })
}

/// Starts `work` on a thread named `name` inside `scope`, so that it can borrow from the caller.
pub fn spawn_scoped<'scope, R: Send + 'scope>(
    scope: &'scope thread::Scope<'scope, '_>,
    name: &str,
    work: impl FnOnce() -> R + Send + 'scope,
) -> io::Result<thread::ScopedJoinHandle<'scope, R>> {
    #[allow(clippy::disallowed_methods)] // the one place threads are started
    thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, work)
}

impl<R> Worker<R> {
    /// Waits for the work; `None` when the thread panicked.
    pub fn join(self) -> Option<R> {
        self.handle.join().ok()
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// `work` applied to every item of `items` on up to `threads` threads named `name-<n>`, each
/// taking the next item still to do; the results in the items' order. An item whose thread
/// panicked gets `None`.
pub fn map<T: Sync, R: Send>(
    name: &str,
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let threads = threads.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = Vec::new();
    results.resize_with(items.len(), || None);
    let parts: Vec<Vec<(usize, R)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .filter_map(|n| {
                spawn_scoped(scope, &format!("{name}-{n}"), || {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            return done;
                        };
                        done.push((index, work(item)));
                    }
                })
                .ok()
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (index, result) in parts.into_iter().flatten() {
        results[index] = Some(result);
    }
    results
}

/// How many threads work that uses every core should take.
pub fn cores() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_gives_every_result_in_order() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map("test", &items, 4, |n| n * n);
        assert!(
            squares
                .iter()
                .enumerate()
                .all(|(n, r)| *r == Some(n as u64 * n as u64))
        );
        assert!(map("test", &Vec::<u8>::new(), 4, |_| 1).is_empty());
    }

    #[test]
    fn a_worker_gives_its_result_and_a_panic_is_none() {
        assert_eq!(spawn("test", || 7).unwrap().join(), Some(7));
        let panicked = spawn("test", || -> u8 { panic!("on purpose") }).unwrap();
        assert_eq!(panicked.join(), None);
    }
}

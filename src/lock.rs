//! Locks taken over when poisoned. Every holder in pixgate changes its data in steps
//! that leave it consistent (one insert, remove, push or send), so what a panicking
//! holder left is usable; refusing every later request would spread one panic to all.
//! The sandbox, a crate of its own, keeps the same rule in its own `lock.rs`.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

pub fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lock if no one holds it now.
pub fn try_locked<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every lock is taken here (or in the sandbox's `lock.rs`): a lock taken any other way
    /// answers a poisoned lock its own way.
    #[test]
    fn no_lock_is_taken_around_this_module() {
        fn walk(dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("lock.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                    for (n, line) in code.lines().enumerate() {
                        let patterns = ["PoisonError", ".lock().unwrap", ".lock().ok()", ".lock().expect"];
                        let more = [".read().unwrap", ".write().unwrap", ".read().ok()", ".write().ok()"];
                        let bypass = patterns.iter().chain(&more).any(|pattern| line.contains(pattern))
                            || line.contains(".lock()") && line.contains("Ok(");
                        if bypass {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        // The sandbox crate keeps the same rule in its own `lock.rs`.
        for crate_sources in ["src", "sandbox/src"] {
            walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_sources), &mut found);
        }
        assert!(found.is_empty(), "locks taken around lock.rs:\n{}", found.join("\n"));
    }
}

//! Locks taken over when poisoned. Every holder in pixgate changes its data in steps
//! that leave it consistent (one insert, remove, push or send), so what a panicking
//! holder left is usable; refusing every later request would spread one panic to all.
//! The sandbox relies on the same: whatever a panicking handler had half done stays
//! visible, as it would upstream.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

// The unsync heap is per thread: its handles cross no thread boundary.
use gc_api::{Gc, GcAny, Weak};

fn is_send<T: Send>() {}
fn is_sync<T: Sync>() {}

fn main() {
    is_send::<Gc<u32>>();
    is_sync::<Gc<u32>>();
    is_send::<Weak<u32>>();
    is_sync::<Weak<u32>>();
    is_send::<GcAny>();
    is_sync::<GcAny>();
}

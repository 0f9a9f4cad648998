use gc_api::{Finalize, Gc, Trace};
use std::cell::RefCell;

#[derive(Trace, Finalize)]
enum Value {
    Int(i64),
    List(Vec<Value>),
    Obj(Gc<RefCell<Vec<Value>>>),
}

#[test]
fn probe() {
    let v = Gc::new(Value::List(vec![Value::Int(1)]));
    assert!(Gc::is_tracked(&v));
}

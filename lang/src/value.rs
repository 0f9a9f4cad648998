//! Runtime values. Everything that lives on the heap is a `Gc` object; symbols and small
//! integers are interned, so `eq?` on them compares identity like CPython's `is`.

use crate::interp::{Builtin, Lambda};
use gc_api::{Finalize, Gc, Trace, Weak};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;

/// A symbol's name. Symbols are made through `gc_api::Interner<Symbol>`.
#[derive(Trace, Finalize, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Symbol(pub String);

/// A cons cell; both halves are mutable (`set-car!`, `set-cdr!`).
#[derive(Trace, Finalize)]
pub struct Pair {
    /// The first half.
    pub car: RefCell<Value>,
    /// The second half.
    pub cdr: RefCell<Value>,
}

/// One frame of local variables, with a pointer to the enclosing frame. A closure holds its
/// frame, and a frame may hold the closure: a recursive local function is a cycle.
#[derive(Trace, Finalize)]
pub struct Env {
    /// The frame's slots, in the order the compiler assigned them.
    pub vals: RefCell<Vec<Value>>,
    /// The enclosing frame (`None` for frames directly under the globals).
    pub parent: Option<Gc<Env>>,
}

/// A user procedure: compiled code plus the environment it was made in.
#[derive(Trace, Finalize)]
pub struct Closure {
    /// The code (not a heap object: it holds no reference back into the heap that could
    /// form a cycle, so the collector need not see it).
    #[gc(skip)]
    pub lambda: Rc<Lambda>,
    /// The captured environment.
    pub env: Option<Gc<Env>>,
}

/// A record type made by `define-record-type`.
#[derive(Trace, Finalize, Debug)]
pub struct RecordType {
    /// The type's name.
    pub name: String,
    /// Field names, in order.
    pub fields: Vec<String>,
}

/// A record: an instance of a `RecordType`, with an optional finalizer thunk.
#[derive(Trace)]
pub struct Record {
    /// Its type.
    pub rtype: Gc<RecordType>,
    /// Field values.
    pub fields: RefCell<Vec<Value>>,
    /// A procedure run once when the record dies (`set-finalizer!`), with no arguments or
    /// with the record itself if it takes one.
    pub finalizer: RefCell<Option<Value>>,
}

/// A finalizer procedure waiting to run, and the record it gets (for a procedure that
/// takes one argument; holding it resurrects the record until the procedure has run).
pub type PendingFinalizer = (Value, Option<Gc<Record>>);

thread_local! {
    static PENDING_FINALIZERS: RefCell<Vec<PendingFinalizer>> = const { RefCell::new(Vec::new()) };
    static HAS_PENDING: Cell<bool> = const { Cell::new(false) };
}

impl Finalize for Record {
    /// Runs inside the collector (or inside the drop of the last reference), where the
    /// interpreter must not be re-entered: the thunk is queued, and the interpreter runs it
    /// at its next safe point (right after the current procedure call returns).
    fn finalize(&self) {
        let proc_ = match self.finalizer.try_borrow_mut() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        if let Some(proc_) = proc_ {
            // Python's `__del__(self)`: a procedure of one argument gets the record.
            let record = takes_one_argument(&proc_)
                .then(|| Gc::finalizing(self))
                .flatten();
            PENDING_FINALIZERS.with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    p.push((proc_, record));
                    HAS_PENDING.with(|h| h.set(true));
                }
            });
        }
    }
}

/// Whether finalizer thunks are queued.
#[inline]
pub fn has_pending_finalizers() -> bool {
    HAS_PENDING.with(Cell::get)
}

/// Whether a finalizer procedure takes the record as its argument.
fn takes_one_argument(proc_: &Value) -> bool {
    match proc_ {
        Value::Closure(c) => c.lambda.nparams == 1 || (c.lambda.nparams == 0 && c.lambda.rest),
        _ => false,
    }
}

/// Takes the finalizer procedures queued since the last call (oldest first).
pub fn take_pending_finalizers() -> Vec<PendingFinalizer> {
    if !HAS_PENDING.with(Cell::get) {
        return Vec::new();
    }
    HAS_PENDING.with(|h| h.set(false));
    PENDING_FINALIZERS.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// What a record procedure made by `define-record-type` does.
#[derive(Trace, Finalize, Debug, Clone)]
pub enum RecordOp {
    /// The constructor: the field index of each argument.
    Make(Vec<usize>),
    /// The type predicate.
    Is,
    /// A field accessor.
    Get(usize),
    /// A field modifier.
    Set(usize),
}

/// A constructor, predicate, accessor or modifier of one record type.
#[derive(Trace, Finalize)]
pub struct RecordProc {
    /// The record type it works on.
    pub rtype: Gc<RecordType>,
    /// What it does.
    pub op: RecordOp,
    /// The name it was defined under (for error messages).
    pub name: String,
}

/// A weak reference to any heap value (`make-weak`).
#[derive(Trace, Finalize, Clone)]
pub enum WeakRef {
    /// To an integer object.
    Int(Weak<i64>),
    /// To a string.
    Str(Weak<String>),
    /// To a symbol.
    Sym(Weak<Symbol>),
    /// To a pair.
    Pair(Weak<Pair>),
    /// To a closure.
    Closure(Weak<Closure>),
    /// To a vector.
    Vector(Weak<RefCell<Vec<Value>>>),
    /// To a record.
    Record(Weak<Record>),
    /// To a record procedure.
    RecordProc(Weak<RecordProc>),
}

/// A value of the language.
#[derive(Trace, Finalize, Clone)]
pub enum Value {
    /// The empty list.
    Nil,
    /// The unspecified value (what `display` or `set!` return); the REPL prints nothing.
    Void,
    /// `#t` / `#f` (immediate, like the empty list).
    Bool(bool),
    /// An integer object; -5..=256 are cached, as in CPython.
    Int(Gc<i64>),
    /// An immutable string.
    Str(Gc<String>),
    /// An interned symbol.
    Sym(Gc<Symbol>),
    /// A cons cell.
    Pair(Gc<Pair>),
    /// A user procedure.
    Closure(Gc<Closure>),
    /// A primitive procedure.
    Builtin(#[gc(skip)] &'static Builtin),
    /// A record constructor, predicate, accessor or modifier.
    RecordProc(Gc<RecordProc>),
    /// A mutable vector.
    Vector(Gc<RefCell<Vec<Value>>>),
    /// A record.
    Record(Gc<Record>),
    /// A weak reference.
    Weak(WeakRef),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text(true))
    }
}

/// Most elements printed for one value (a circular list prints `...` after that).
const PRINT_LIMIT: usize = 100_000;

impl Value {
    /// Whether the value counts as true (everything but `#f`).
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }

    /// The integer, if the value is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(**i),
            _ => None,
        }
    }

    /// The object's identity (`Gc::id`); `None` for immediates (`()`, booleans, builtins).
    pub fn id(&self) -> Option<usize> {
        Some(match self {
            Value::Nil | Value::Void | Value::Bool(_) | Value::Builtin(_) => return None,
            Value::Int(g) => Gc::id(g),
            Value::Str(g) => Gc::id(g),
            Value::Sym(g) => Gc::id(g),
            Value::Pair(g) => Gc::id(g),
            Value::Closure(g) => Gc::id(g),
            Value::RecordProc(g) => Gc::id(g),
            Value::Vector(g) => Gc::id(g),
            Value::Record(g) => Gc::id(g),
            Value::Weak(_) => return None,
        })
    }

    /// The object's strong count (`Gc::strong_count`); `None` for immediates.
    pub fn refcount(&self) -> Option<usize> {
        Some(match self {
            Value::Nil | Value::Void | Value::Bool(_) | Value::Builtin(_) | Value::Weak(_) => {
                return None;
            }
            Value::Int(g) => Gc::strong_count(g),
            Value::Str(g) => Gc::strong_count(g),
            Value::Sym(g) => Gc::strong_count(g),
            Value::Pair(g) => Gc::strong_count(g),
            Value::Closure(g) => Gc::strong_count(g),
            Value::RecordProc(g) => Gc::strong_count(g),
            Value::Vector(g) => Gc::strong_count(g),
            Value::Record(g) => Gc::strong_count(g),
        })
    }

    /// A weak reference to the value's object; `None` for immediates.
    pub fn downgrade(&self) -> Option<WeakRef> {
        Some(match self {
            Value::Int(g) => WeakRef::Int(Gc::downgrade(g)),
            Value::Str(g) => WeakRef::Str(Gc::downgrade(g)),
            Value::Sym(g) => WeakRef::Sym(Gc::downgrade(g)),
            Value::Pair(g) => WeakRef::Pair(Gc::downgrade(g)),
            Value::Closure(g) => WeakRef::Closure(Gc::downgrade(g)),
            Value::RecordProc(g) => WeakRef::RecordProc(Gc::downgrade(g)),
            Value::Vector(g) => WeakRef::Vector(Gc::downgrade(g)),
            Value::Record(g) => WeakRef::Record(Gc::downgrade(g)),
            _ => return None,
        })
    }

    /// `eq?`: the same object (or the same immediate).
    pub fn is_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) | (Value::Void, Value::Void) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Builtin(a), Value::Builtin(b)) => std::ptr::eq(*a, *b),
            (Value::Weak(_), Value::Weak(_)) => false,
            _ => match (self.id(), other.id()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// `eqv?`: `eq?`, or numbers / strings... numbers with the same value.
    pub fn is_eqv(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => **a == **b,
            _ => self.is_eq(other),
        }
    }

    /// `equal?`: structural equality (pairs, vectors, strings, numbers); `None` when the
    /// structures are too deep to compare.
    pub fn is_equal(&self, other: &Value, depth: usize) -> Option<bool> {
        if depth > 10_000 {
            return None;
        }
        let mut a = self.clone();
        let mut b = other.clone();
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > PRINT_LIMIT {
                return None;
            }
            match (&a, &b) {
                (Value::Pair(x), Value::Pair(y)) => {
                    if Gc::ptr_eq(x, y) {
                        return Some(true);
                    }
                    if !x.car.borrow().is_equal(&y.car.borrow(), depth + 1)? {
                        return Some(false);
                    }
                    let (na, nb) = (x.cdr.borrow().clone(), y.cdr.borrow().clone());
                    a = na;
                    b = nb;
                }
                (Value::Str(x), Value::Str(y)) => return Some(**x == **y),
                (Value::Vector(x), Value::Vector(y)) => {
                    let (x, y) = (x.borrow(), y.borrow());
                    if x.len() != y.len() {
                        return Some(false);
                    }
                    for (p, q) in x.iter().zip(y.iter()) {
                        if !p.is_equal(q, depth + 1)? {
                            return Some(false);
                        }
                    }
                    return Some(true);
                }
                _ => return Some(a.is_eqv(&b)),
            }
        }
    }

    /// The printed form: `write` style when `write` is true (strings quoted), else
    /// `display` style.
    pub fn to_text(&self, write: bool) -> String {
        let mut out = String::new();
        let mut budget = PRINT_LIMIT;
        self.print(&mut out, write, &mut budget, 0);
        out
    }

    fn print(&self, out: &mut String, write: bool, budget: &mut usize, depth: usize) {
        if *budget == 0 || depth > 1000 {
            out.push_str("...");
            return;
        }
        *budget -= 1;
        match self {
            Value::Nil => out.push_str("()"),
            Value::Void => {}
            Value::Bool(true) => out.push_str("#t"),
            Value::Bool(false) => out.push_str("#f"),
            Value::Int(i) => {
                let _ = write!(out, "{}", **i);
            }
            Value::Str(s) => {
                if write {
                    out.push('"');
                    for c in s.chars() {
                        match c {
                            '"' => out.push_str("\\\""),
                            '\\' => out.push_str("\\\\"),
                            '\n' => out.push_str("\\n"),
                            '\t' => out.push_str("\\t"),
                            c => out.push(c),
                        }
                    }
                    out.push('"');
                } else {
                    out.push_str(s);
                }
            }
            Value::Sym(s) => out.push_str(&s.0),
            Value::Pair(p) => {
                out.push('(');
                p.car.borrow().print(out, write, budget, depth + 1);
                let mut rest = p.cdr.borrow().clone();
                loop {
                    match rest {
                        Value::Nil => break,
                        Value::Pair(q) => {
                            if *budget == 0 {
                                out.push_str(" ...");
                                break;
                            }
                            out.push(' ');
                            q.car.borrow().print(out, write, budget, depth + 1);
                            rest = q.cdr.borrow().clone();
                        }
                        other => {
                            out.push_str(" . ");
                            other.print(out, write, budget, depth + 1);
                            break;
                        }
                    }
                }
                out.push(')');
            }
            Value::Closure(c) => match &c.lambda.name {
                Some(n) => {
                    let _ = write!(out, "#<procedure {n}>");
                }
                None => out.push_str("#<procedure>"),
            },
            Value::Builtin(b) => {
                let _ = write!(out, "#<builtin {}>", b.name);
            }
            Value::RecordProc(p) => {
                let _ = write!(out, "#<procedure {}>", p.name);
            }
            Value::Vector(v) => {
                out.push_str("#(");
                for (i, x) in v.borrow().iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    x.print(out, write, budget, depth + 1);
                }
                out.push(')');
            }
            Value::Record(r) => {
                let _ = write!(out, "#<{}", r.rtype.name);
                for (name, v) in r.rtype.fields.iter().zip(r.fields.borrow().iter()) {
                    let _ = write!(out, " {name}=");
                    v.print(out, write, budget, depth + 1);
                }
                out.push('>');
            }
            Value::Weak(w) => {
                let alive = match w {
                    WeakRef::Int(w) => !w.is_dead(),
                    WeakRef::Str(w) => !w.is_dead(),
                    WeakRef::Sym(w) => !w.is_dead(),
                    WeakRef::Pair(w) => !w.is_dead(),
                    WeakRef::Closure(w) => !w.is_dead(),
                    WeakRef::Vector(w) => !w.is_dead(),
                    WeakRef::Record(w) => !w.is_dead(),
                    WeakRef::RecordProc(w) => !w.is_dead(),
                };
                out.push_str(if alive { "#<weak>" } else { "#<weak; dead>" });
            }
        }
    }
}

impl WeakRef {
    /// The target, if it is still alive.
    pub fn upgrade(&self) -> Option<Value> {
        Some(match self {
            WeakRef::Int(w) => Value::Int(w.upgrade()?),
            WeakRef::Str(w) => Value::Str(w.upgrade()?),
            WeakRef::Sym(w) => Value::Sym(w.upgrade()?),
            WeakRef::Pair(w) => Value::Pair(w.upgrade()?),
            WeakRef::Closure(w) => Value::Closure(w.upgrade()?),
            WeakRef::Vector(w) => Value::Vector(w.upgrade()?),
            WeakRef::Record(w) => Value::Record(w.upgrade()?),
            WeakRef::RecordProc(w) => Value::RecordProc(w.upgrade()?),
        })
    }
}

/// A fresh pair.
pub fn cons(car: Value, cdr: Value) -> Value {
    Value::Pair(Gc::new(Pair {
        car: RefCell::new(car),
        cdr: RefCell::new(cdr),
    }))
}

/// A proper list of the values.
pub fn list_from(items: Vec<Value>) -> Value {
    let mut out = Value::Nil;
    for v in items.into_iter().rev() {
        out = cons(v, out);
    }
    out
}

/// The elements of a proper list, or `None` if it is not one.
pub fn list_to_vec(list: &Value) -> Option<Vec<Value>> {
    let mut out = Vec::new();
    let mut cur = list.clone();
    loop {
        match cur {
            Value::Nil => return Some(out),
            Value::Pair(p) => {
                out.push(p.car.borrow().clone());
                let next = p.cdr.borrow().clone();
                cur = next;
                if out.len() > 100_000_000 {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

macro_rules! opaque_debug {
    ($($t:ty => $label:literal),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($label)
            }
        }
    )*};
}

opaque_debug!(
    Pair => "#<pair>",
    Env => "#<environment>",
    Closure => "#<procedure>",
    Record => "#<record>",
    RecordProc => "#<record procedure>",
    WeakRef => "#<weak>",
);

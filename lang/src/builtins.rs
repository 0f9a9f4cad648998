//! Primitive procedures, including the ones that expose the gc-api runtime.

use crate::Error;
use crate::interp::{Builtin, Interp};
use crate::value::{Record, RecordOp, RecordProc, Value, cons, list_from, list_to_vec};
use gc_api::Gc;
use std::cell::RefCell;

type R = Result<Value, Error>;

fn err(msg: impl Into<String>) -> Error {
    Error::msg(msg)
}

fn int(v: &Value, who: &str) -> Result<i64, Error> {
    v.as_int().ok_or_else(|| {
        err(format!(
            "{who}: expected an integer, got {}",
            v.to_text(true)
        ))
    })
}

fn usize_arg(v: &Value, who: &str) -> Result<usize, Error> {
    let n = int(v, who)?;
    usize::try_from(n).map_err(|_| err(format!("{who}: expected a non-negative integer, got {n}")))
}

fn overflow(who: &str) -> Error {
    err(format!("{who}: integer overflow"))
}

fn pair<'a>(v: &'a Value, who: &str) -> Result<&'a Gc<crate::value::Pair>, Error> {
    match v {
        Value::Pair(p) => Ok(p),
        other => Err(err(format!(
            "{who}: expected a pair, got {}",
            other.to_text(true)
        ))),
    }
}

fn list(v: &Value, who: &str) -> Result<Vec<Value>, Error> {
    list_to_vec(v).ok_or_else(|| err(format!("{who}: expected a list, got {}", v.to_text(true))))
}

fn string<'a>(v: &'a Value, who: &str) -> Result<&'a str, Error> {
    match v {
        Value::Str(s) => Ok(s.as_str()),
        other => Err(err(format!(
            "{who}: expected a string, got {}",
            other.to_text(true)
        ))),
    }
}

fn is_procedure(v: &Value) -> bool {
    matches!(
        v,
        Value::Closure(_) | Value::Builtin(_) | Value::RecordProc(_)
    )
}

fn b_add(i: &Interp, a: Vec<Value>) -> R {
    let mut acc: i64 = 0;
    for v in &a {
        acc = acc.checked_add(int(v, "+")?).ok_or_else(|| overflow("+"))?;
    }
    Ok(i.int(acc))
}

fn b_mul(i: &Interp, a: Vec<Value>) -> R {
    let mut acc: i64 = 1;
    for v in &a {
        acc = acc.checked_mul(int(v, "*")?).ok_or_else(|| overflow("*"))?;
    }
    Ok(i.int(acc))
}

fn b_sub(i: &Interp, a: Vec<Value>) -> R {
    let first = int(&a[0], "-")?;
    if a.len() == 1 {
        return Ok(i.int(first.checked_neg().ok_or_else(|| overflow("-"))?));
    }
    let mut acc = first;
    for v in &a[1..] {
        acc = acc.checked_sub(int(v, "-")?).ok_or_else(|| overflow("-"))?;
    }
    Ok(i.int(acc))
}

fn div_args(a: &[Value], who: &str) -> Result<(i64, i64), Error> {
    let (x, y) = (int(&a[0], who)?, int(&a[1], who)?);
    if y == 0 {
        return Err(err(format!("{who}: division by zero")));
    }
    Ok((x, y))
}

fn b_quotient(i: &Interp, a: Vec<Value>) -> R {
    let (x, y) = div_args(&a, "quotient")?;
    Ok(i.int(x.checked_div(y).ok_or_else(|| overflow("quotient"))?))
}

fn b_remainder(i: &Interp, a: Vec<Value>) -> R {
    let (x, y) = div_args(&a, "remainder")?;
    Ok(i.int(x.checked_rem(y).ok_or_else(|| overflow("remainder"))?))
}

fn b_modulo(i: &Interp, a: Vec<Value>) -> R {
    let (x, y) = div_args(&a, "modulo")?;
    let r = x.checked_rem(y).ok_or_else(|| overflow("modulo"))?;
    Ok(i.int(if r != 0 && (r < 0) != (y < 0) {
        r + y
    } else {
        r
    }))
}

fn b_abs(i: &Interp, a: Vec<Value>) -> R {
    Ok(i.int(
        int(&a[0], "abs")?
            .checked_abs()
            .ok_or_else(|| overflow("abs"))?,
    ))
}

fn b_min(_: &Interp, a: Vec<Value>) -> R {
    let mut best = a[0].clone();
    for v in &a[1..] {
        if int(v, "min")? < int(&best, "min")? {
            best = v.clone();
        }
    }
    Ok(best)
}

fn b_max(_: &Interp, a: Vec<Value>) -> R {
    let mut best = a[0].clone();
    for v in &a[1..] {
        if int(v, "max")? > int(&best, "max")? {
            best = v.clone();
        }
    }
    Ok(best)
}

fn compare(a: &[Value], who: &str, ok: fn(i64, i64) -> bool) -> R {
    let mut prev = int(&a[0], who)?;
    let mut result = true;
    for v in &a[1..] {
        let x = int(v, who)?;
        result &= ok(prev, x);
        prev = x;
    }
    Ok(Value::Bool(result))
}

fn b_num_eq(_: &Interp, a: Vec<Value>) -> R {
    compare(&a, "=", |x, y| x == y)
}
fn b_lt(_: &Interp, a: Vec<Value>) -> R {
    compare(&a, "<", |x, y| x < y)
}
fn b_gt(_: &Interp, a: Vec<Value>) -> R {
    compare(&a, ">", |x, y| x > y)
}
fn b_le(_: &Interp, a: Vec<Value>) -> R {
    compare(&a, "<=", |x, y| x <= y)
}
fn b_ge(_: &Interp, a: Vec<Value>) -> R {
    compare(&a, ">=", |x, y| x >= y)
}
fn b_zero(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(int(&a[0], "zero?")? == 0))
}
fn b_positive(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(int(&a[0], "positive?")? > 0))
}
fn b_negative(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(int(&a[0], "negative?")? < 0))
}
fn b_even(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(int(&a[0], "even?")? % 2 == 0))
}
fn b_odd(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(int(&a[0], "odd?")? % 2 != 0))
}

fn b_not(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(!a[0].truthy()))
}
fn b_eq(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(a[0].is_eq(&a[1])))
}
fn b_eqv(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(a[0].is_eqv(&a[1])))
}
fn b_equal(_: &Interp, a: Vec<Value>) -> R {
    a[0].is_equal(&a[1], 0)
        .map(Value::Bool)
        .ok_or_else(|| err("equal?: structure too deep or circular"))
}

macro_rules! predicate {
    ($fname:ident, $pat:pat) => {
        fn $fname(_: &Interp, a: Vec<Value>) -> R {
            Ok(Value::Bool(matches!(a[0], $pat)))
        }
    };
}
predicate!(b_nullp, Value::Nil);
predicate!(b_pairp, Value::Pair(_));
predicate!(b_symbolp, Value::Sym(_));
predicate!(b_stringp, Value::Str(_));
predicate!(b_numberp, Value::Int(_));
predicate!(b_booleanp, Value::Bool(_));
predicate!(b_vectorp, Value::Vector(_));
predicate!(b_recordp, Value::Record(_));

fn b_procedurep(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(is_procedure(&a[0])))
}
fn b_listp(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(list_to_vec(&a[0]).is_some()))
}

fn b_cons(_: &Interp, mut a: Vec<Value>) -> R {
    let cdr = a.pop().unwrap_or(Value::Nil);
    let car = a.pop().unwrap_or(Value::Nil);
    Ok(cons(car, cdr))
}
fn b_car(_: &Interp, a: Vec<Value>) -> R {
    Ok(pair(&a[0], "car")?.car.borrow().clone())
}
fn b_cdr(_: &Interp, a: Vec<Value>) -> R {
    Ok(pair(&a[0], "cdr")?.cdr.borrow().clone())
}
fn b_cadr(_: &Interp, a: Vec<Value>) -> R {
    let d = pair(&a[0], "cadr")?.cdr.borrow().clone();
    Ok(pair(&d, "cadr")?.car.borrow().clone())
}
fn b_cddr(_: &Interp, a: Vec<Value>) -> R {
    let d = pair(&a[0], "cddr")?.cdr.borrow().clone();
    Ok(pair(&d, "cddr")?.cdr.borrow().clone())
}
fn b_caar(_: &Interp, a: Vec<Value>) -> R {
    let d = pair(&a[0], "caar")?.car.borrow().clone();
    Ok(pair(&d, "caar")?.car.borrow().clone())
}
fn b_set_car(_: &Interp, mut a: Vec<Value>) -> R {
    let v = a.pop().unwrap_or(Value::Void);
    let old = pair(&a[0], "set-car!")?.car.replace(v);
    drop(old);
    Ok(Value::Void)
}
fn b_set_cdr(_: &Interp, mut a: Vec<Value>) -> R {
    let v = a.pop().unwrap_or(Value::Void);
    let old = pair(&a[0], "set-cdr!")?.cdr.replace(v);
    drop(old);
    Ok(Value::Void)
}
fn b_list(_: &Interp, a: Vec<Value>) -> R {
    Ok(list_from(a))
}
fn b_length(i: &Interp, a: Vec<Value>) -> R {
    Ok(i.int(list(&a[0], "length")?.len() as i64))
}
fn b_append(_: &Interp, mut a: Vec<Value>) -> R {
    let Some(mut out) = a.pop() else {
        return Ok(Value::Nil);
    };
    for l in a.iter().rev() {
        for v in list(l, "append")?.into_iter().rev() {
            out = cons(v, out);
        }
    }
    Ok(out)
}
fn b_reverse(_: &Interp, a: Vec<Value>) -> R {
    let mut out = Value::Nil;
    for v in list(&a[0], "reverse")? {
        out = cons(v, out);
    }
    Ok(out)
}
fn b_list_tail(_: &Interp, a: Vec<Value>) -> R {
    let k = usize_arg(&a[1], "list-tail")?;
    let mut cur = a[0].clone();
    for _ in 0..k {
        let next = pair(&cur, "list-tail")?.cdr.borrow().clone();
        cur = next;
    }
    Ok(cur)
}
fn b_list_ref(i: &Interp, a: Vec<Value>) -> R {
    let tail = b_list_tail(i, a)?;
    Ok(pair(&tail, "list-ref")?.car.borrow().clone())
}
fn b_memq(_: &Interp, a: Vec<Value>) -> R {
    let mut cur = a[1].clone();
    while let Value::Pair(p) = &cur {
        if p.car.borrow().is_eqv(&a[0]) {
            return Ok(cur);
        }
        let next = p.cdr.borrow().clone();
        cur = next;
    }
    Ok(Value::Bool(false))
}
fn b_assq(_: &Interp, a: Vec<Value>) -> R {
    for entry in list(&a[1], "assq")? {
        if pair(&entry, "assq")?.car.borrow().is_eqv(&a[0]) {
            return Ok(entry);
        }
    }
    Ok(Value::Bool(false))
}

fn b_map(i: &Interp, a: Vec<Value>) -> R {
    let lists = a[1..]
        .iter()
        .map(|l| list(l, "map"))
        .collect::<Result<Vec<_>, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let args = lists.iter().map(|l| l[k].clone()).collect();
        out.push(i.apply(a[0].clone(), args, 0)?);
    }
    Ok(list_from(out))
}
fn b_for_each(i: &Interp, a: Vec<Value>) -> R {
    let lists = a[1..]
        .iter()
        .map(|l| list(l, "for-each"))
        .collect::<Result<Vec<_>, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    for k in 0..n {
        let args = lists.iter().map(|l| l[k].clone()).collect();
        i.apply(a[0].clone(), args, 0)?;
    }
    Ok(Value::Void)
}
fn b_apply(i: &Interp, mut a: Vec<Value>) -> R {
    let last = a.pop().unwrap_or(Value::Nil);
    let mut args: Vec<Value> = a.drain(1..).collect();
    args.extend(list(&last, "apply")?);
    i.apply(a[0].clone(), args, 0)
}

fn vector(v: &Value, who: &str) -> Result<Gc<RefCell<Vec<Value>>>, Error> {
    match v {
        Value::Vector(g) => Ok(g.clone()),
        other => Err(err(format!(
            "{who}: expected a vector, got {}",
            other.to_text(true)
        ))),
    }
}
fn new_vector(items: Vec<Value>) -> Value {
    Value::Vector(Gc::new(RefCell::new(items)))
}
fn b_vector(_: &Interp, a: Vec<Value>) -> R {
    Ok(new_vector(a))
}
fn b_make_vector(_: &Interp, a: Vec<Value>) -> R {
    let n = usize_arg(&a[0], "make-vector")?;
    if n > 100_000_000 {
        return Err(err("make-vector: too large"));
    }
    let fill = a.get(1).cloned().unwrap_or(Value::Bool(false));
    Ok(new_vector(vec![fill; n]))
}
fn b_vector_ref(_: &Interp, a: Vec<Value>) -> R {
    let v = vector(&a[0], "vector-ref")?;
    let k = usize_arg(&a[1], "vector-ref")?;
    let item = v.borrow().get(k).cloned();
    item.ok_or_else(|| err(format!("vector-ref: index {k} out of range")))
}
fn b_vector_set(_: &Interp, mut a: Vec<Value>) -> R {
    let x = a.pop().unwrap_or(Value::Void);
    let v = vector(&a[0], "vector-set!")?;
    let k = usize_arg(&a[1], "vector-set!")?;
    let old = v
        .borrow_mut()
        .get_mut(k)
        .map(|slot| std::mem::replace(slot, x));
    match old {
        Some(old) => {
            drop(old);
            Ok(Value::Void)
        }
        None => Err(err(format!("vector-set!: index {k} out of range"))),
    }
}
fn b_vector_length(i: &Interp, a: Vec<Value>) -> R {
    let n = vector(&a[0], "vector-length")?.borrow().len();
    Ok(i.int(n as i64))
}
fn b_vector_to_list(_: &Interp, a: Vec<Value>) -> R {
    let items = vector(&a[0], "vector->list")?.borrow().clone();
    Ok(list_from(items))
}
fn b_list_to_vector(_: &Interp, a: Vec<Value>) -> R {
    Ok(new_vector(list(&a[0], "list->vector")?))
}

fn b_string_append(_: &Interp, a: Vec<Value>) -> R {
    let mut s = String::new();
    for v in &a {
        s.push_str(string(v, "string-append")?);
    }
    Ok(Value::Str(Gc::new(s)))
}
fn b_string_length(i: &Interp, a: Vec<Value>) -> R {
    Ok(i.int(string(&a[0], "string-length")?.chars().count() as i64))
}
fn b_string_eq(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(
        string(&a[0], "string=?")? == string(&a[1], "string=?")?,
    ))
}
fn b_number_to_string(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Str(Gc::new(
        int(&a[0], "number->string")?.to_string(),
    )))
}
fn b_string_to_number(i: &Interp, a: Vec<Value>) -> R {
    Ok(
        match string(&a[0], "string->number")?.trim().parse::<i64>() {
            Ok(n) => i.int(n),
            Err(_) => Value::Bool(false),
        },
    )
}
fn b_symbol_to_string(_: &Interp, a: Vec<Value>) -> R {
    match &a[0] {
        Value::Sym(s) => Ok(Value::Str(Gc::new(s.0.clone()))),
        other => Err(err(format!(
            "symbol->string: expected a symbol, got {}",
            other.to_text(true)
        ))),
    }
}
fn b_string_to_symbol(i: &Interp, a: Vec<Value>) -> R {
    Ok(i.symbol(string(&a[0], "string->symbol")?))
}

fn b_display(i: &Interp, a: Vec<Value>) -> R {
    i.write_out(&a[0].to_text(false))?;
    Ok(Value::Void)
}
fn b_write(i: &Interp, a: Vec<Value>) -> R {
    i.write_out(&a[0].to_text(true))?;
    Ok(Value::Void)
}
fn b_newline(i: &Interp, _: Vec<Value>) -> R {
    i.write_out("\n")?;
    Ok(Value::Void)
}
fn b_error(_: &Interp, a: Vec<Value>) -> R {
    let mut msg = a[0].to_text(false);
    for v in &a[1..] {
        msg.push(' ');
        msg.push_str(&v.to_text(true));
    }
    Err(err(msg))
}
fn b_command_line(i: &Interp, _: Vec<Value>) -> R {
    Ok(list_from(
        i.args
            .iter()
            .map(|s| Value::Str(Gc::new(s.clone())))
            .collect(),
    ))
}
fn b_set_recursion_limit(i: &Interp, a: Vec<Value>) -> R {
    let n = usize_arg(&a[0], "set-recursion-limit!")?;
    if !(1..=crate::MAX_DEPTH_LIMIT).contains(&n) {
        return Err(err(format!(
            "set-recursion-limit!: limit must be 1..={}",
            crate::MAX_DEPTH_LIMIT
        )));
    }
    i.set_max_depth(n);
    Ok(Value::Void)
}

// --- the runtime: gc-api exposed ---

fn b_gc_collect(i: &Interp, a: Vec<Value>) -> R {
    let n = match a.first() {
        None => gc_api::collect(),
        Some(g) => gc_api::collect_generation(usize_arg(g, "gc-collect")?)
            .map_err(|e| err(format!("gc-collect: {e}")))?,
    };
    Ok(i.int(n as i64))
}
fn triple(i: &Interp, t: [usize; 3]) -> Value {
    list_from(t.iter().map(|&n| i.int(n as i64)).collect())
}
fn b_get_count(i: &Interp, _: Vec<Value>) -> R {
    Ok(triple(i, gc_api::get_count()))
}
fn b_get_threshold(i: &Interp, _: Vec<Value>) -> R {
    Ok(triple(i, gc_api::get_threshold()))
}
fn b_set_threshold(_: &Interp, a: Vec<Value>) -> R {
    let mut t = gc_api::get_threshold();
    for (k, v) in a.iter().enumerate() {
        t[k] = usize_arg(v, "set-threshold")?;
    }
    gc_api::set_threshold(t);
    Ok(Value::Void)
}
fn b_get_stats(i: &Interp, _: Vec<Value>) -> R {
    let stats = gc_api::get_stats()
        .iter()
        .map(|s| {
            list_from(vec![
                i.int(s.collections as i64),
                i.int(s.collected as i64),
                i.int(s.uncollectable as i64),
            ])
        })
        .collect();
    Ok(list_from(stats))
}
fn b_gc_enable(_: &Interp, _: Vec<Value>) -> R {
    gc_api::enable();
    Ok(Value::Void)
}
fn b_gc_disable(_: &Interp, _: Vec<Value>) -> R {
    gc_api::disable();
    Ok(Value::Void)
}
fn b_gc_enabledp(_: &Interp, _: Vec<Value>) -> R {
    Ok(Value::Bool(gc_api::is_enabled()))
}
fn b_tracked_objects(i: &Interp, _: Vec<Value>) -> R {
    let n = gc_api::get_objects(None)
        .map_err(|e| err(format!("tracked-objects: {e}")))?
        .len();
    Ok(i.int(n as i64))
}
fn b_id(i: &Interp, a: Vec<Value>) -> R {
    match a[0].id() {
        Some(id) => Ok(i.int(id as i64)),
        None => Err(err(format!(
            "id: {} is an immediate value, not an object",
            a[0].to_text(true)
        ))),
    }
}
fn b_refcount(i: &Interp, a: Vec<Value>) -> R {
    match a[0].refcount() {
        Some(n) => Ok(i.int(n as i64)),
        None => Err(err(format!(
            "refcount: {} is an immediate value, not an object",
            a[0].to_text(true)
        ))),
    }
}
fn b_trackedp(_: &Interp, a: Vec<Value>) -> R {
    Ok(Value::Bool(match &a[0] {
        Value::Int(g) => Gc::is_tracked(g),
        Value::Str(g) => Gc::is_tracked(g),
        Value::Sym(g) => Gc::is_tracked(g),
        Value::Pair(g) => Gc::is_tracked(g),
        Value::Closure(g) => Gc::is_tracked(g),
        Value::RecordProc(g) => Gc::is_tracked(g),
        Value::Vector(g) => Gc::is_tracked(g),
        Value::Record(g) => Gc::is_tracked(g),
        _ => false,
    }))
}
fn b_make_weak(_: &Interp, a: Vec<Value>) -> R {
    match a[0].downgrade() {
        Some(w) => Ok(Value::Weak(w)),
        None => Err(err(format!(
            "make-weak: cannot make a weak reference to {}",
            a[0].to_text(true)
        ))),
    }
}
fn b_weak_ref(_: &Interp, a: Vec<Value>) -> R {
    match &a[0] {
        Value::Weak(w) => Ok(w.upgrade().unwrap_or(Value::Bool(false))),
        other => Err(err(format!(
            "weak-ref: expected a weak reference, got {}",
            other.to_text(true)
        ))),
    }
}
fn b_set_finalizer(_: &Interp, mut a: Vec<Value>) -> R {
    let f = a.pop().unwrap_or(Value::Void);
    let Value::Record(r) = &a[0] else {
        return Err(err(format!(
            "set-finalizer!: expected a record, got {}",
            a[0].to_text(true)
        )));
    };
    if !is_procedure(&f) && !matches!(f, Value::Bool(false)) {
        return Err(err(
            "set-finalizer!: expected a procedure of no arguments or of the record (or #f)",
        ));
    }
    let new = if f.truthy() { Some(f) } else { None };
    let old = r.finalizer.replace(new);
    drop(old);
    Ok(Value::Void)
}

/// Runs a record constructor, predicate, accessor or modifier.
pub(crate) fn record_proc(_: &Interp, p: &Gc<RecordProc>, mut a: Vec<Value>) -> R {
    let want = match &p.op {
        RecordOp::Make(idx) => idx.len(),
        RecordOp::Is | RecordOp::Get(_) => 1,
        RecordOp::Set(_) => 2,
    };
    if a.len() != want {
        return Err(err(format!(
            "{}: expected {want} argument(s), got {}",
            p.name,
            a.len()
        )));
    }
    let rec = |v: &Value| -> Result<Gc<Record>, Error> {
        match v {
            Value::Record(r) if Gc::ptr_eq(&r.rtype, &p.rtype) => Ok(r.clone()),
            other => Err(err(format!(
                "{}: expected a {} record, got {}",
                p.name,
                p.rtype.name,
                other.to_text(true)
            ))),
        }
    };
    match &p.op {
        RecordOp::Make(idx) => {
            let mut fields = vec![Value::Bool(false); p.rtype.fields.len()];
            for (k, v) in idx.iter().zip(a) {
                fields[*k] = v;
            }
            Ok(Value::Record(Gc::new(Record {
                rtype: p.rtype.clone(),
                fields: RefCell::new(fields),
                finalizer: RefCell::new(None),
            })))
        }
        RecordOp::Is => Ok(Value::Bool(
            matches!(&a[0], Value::Record(r) if Gc::ptr_eq(&r.rtype, &p.rtype)),
        )),
        RecordOp::Get(k) => Ok(rec(&a[0])?.fields.borrow()[*k].clone()),
        RecordOp::Set(k) => {
            let v = a.pop().unwrap_or(Value::Void);
            let r = rec(&a[0])?;
            let old = std::mem::replace(&mut r.fields.borrow_mut()[*k], v);
            drop(old);
            Ok(Value::Void)
        }
    }
}

macro_rules! builtins {
    ($( $name:literal, $min:expr, $max:expr, $f:ident; )*) => {
        static BUILTINS: &[Builtin] = &[
            $( Builtin { name: $name, min: $min, max: $max, func: $f }, )*
        ];
    };
}

const ANY: Option<usize> = None;

builtins! {
    "+", 0, ANY, b_add;
    "-", 1, ANY, b_sub;
    "*", 0, ANY, b_mul;
    "quotient", 2, Some(2), b_quotient;
    "remainder", 2, Some(2), b_remainder;
    "modulo", 2, Some(2), b_modulo;
    "abs", 1, Some(1), b_abs;
    "min", 1, ANY, b_min;
    "max", 1, ANY, b_max;
    "=", 1, ANY, b_num_eq;
    "<", 1, ANY, b_lt;
    ">", 1, ANY, b_gt;
    "<=", 1, ANY, b_le;
    ">=", 1, ANY, b_ge;
    "zero?", 1, Some(1), b_zero;
    "positive?", 1, Some(1), b_positive;
    "negative?", 1, Some(1), b_negative;
    "even?", 1, Some(1), b_even;
    "odd?", 1, Some(1), b_odd;
    "not", 1, Some(1), b_not;
    "eq?", 2, Some(2), b_eq;
    "eqv?", 2, Some(2), b_eqv;
    "equal?", 2, Some(2), b_equal;
    "null?", 1, Some(1), b_nullp;
    "pair?", 1, Some(1), b_pairp;
    "list?", 1, Some(1), b_listp;
    "symbol?", 1, Some(1), b_symbolp;
    "string?", 1, Some(1), b_stringp;
    "number?", 1, Some(1), b_numberp;
    "integer?", 1, Some(1), b_numberp;
    "boolean?", 1, Some(1), b_booleanp;
    "vector?", 1, Some(1), b_vectorp;
    "record?", 1, Some(1), b_recordp;
    "procedure?", 1, Some(1), b_procedurep;
    "cons", 2, Some(2), b_cons;
    "car", 1, Some(1), b_car;
    "cdr", 1, Some(1), b_cdr;
    "cadr", 1, Some(1), b_cadr;
    "cddr", 1, Some(1), b_cddr;
    "caar", 1, Some(1), b_caar;
    "set-car!", 2, Some(2), b_set_car;
    "set-cdr!", 2, Some(2), b_set_cdr;
    "list", 0, ANY, b_list;
    "length", 1, Some(1), b_length;
    "append", 0, ANY, b_append;
    "reverse", 1, Some(1), b_reverse;
    "list-tail", 2, Some(2), b_list_tail;
    "list-ref", 2, Some(2), b_list_ref;
    "memq", 2, Some(2), b_memq;
    "memv", 2, Some(2), b_memq;
    "assq", 2, Some(2), b_assq;
    "assv", 2, Some(2), b_assq;
    "map", 2, ANY, b_map;
    "for-each", 2, ANY, b_for_each;
    "apply", 2, ANY, b_apply;
    "vector", 0, ANY, b_vector;
    "make-vector", 1, Some(2), b_make_vector;
    "vector-ref", 2, Some(2), b_vector_ref;
    "vector-set!", 3, Some(3), b_vector_set;
    "vector-length", 1, Some(1), b_vector_length;
    "vector->list", 1, Some(1), b_vector_to_list;
    "list->vector", 1, Some(1), b_list_to_vector;
    "string-append", 0, ANY, b_string_append;
    "string-length", 1, Some(1), b_string_length;
    "string=?", 2, Some(2), b_string_eq;
    "number->string", 1, Some(1), b_number_to_string;
    "string->number", 1, Some(1), b_string_to_number;
    "symbol->string", 1, Some(1), b_symbol_to_string;
    "string->symbol", 1, Some(1), b_string_to_symbol;
    "display", 1, Some(1), b_display;
    "write", 1, Some(1), b_write;
    "newline", 0, Some(0), b_newline;
    "error", 1, ANY, b_error;
    "command-line", 0, Some(0), b_command_line;
    "set-recursion-limit!", 1, Some(1), b_set_recursion_limit;
    "gc-collect", 0, Some(1), b_gc_collect;
    "get-count", 0, Some(0), b_get_count;
    "get-threshold", 0, Some(0), b_get_threshold;
    "set-threshold", 1, Some(3), b_set_threshold;
    "get-stats", 0, Some(0), b_get_stats;
    "gc-enable", 0, Some(0), b_gc_enable;
    "gc-disable", 0, Some(0), b_gc_disable;
    "gc-enabled?", 0, Some(0), b_gc_enabledp;
    "tracked-objects", 0, Some(0), b_tracked_objects;
    "tracked?", 1, Some(1), b_trackedp;
    "id", 1, Some(1), b_id;
    "refcount", 1, Some(1), b_refcount;
    "make-weak", 1, Some(1), b_make_weak;
    "weak-ref", 1, Some(1), b_weak_ref;
    "set-finalizer!", 2, Some(2), b_set_finalizer;
}

/// Defines every builtin as a global of `interp`.
pub(crate) fn install(interp: &Interp) {
    for b in BUILTINS {
        interp.define(b.name, Value::Builtin(b));
    }
}

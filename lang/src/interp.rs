//! The evaluator: a tree-walking interpreter with proper tail calls.

use crate::Error;
use crate::reader::Reader;
use crate::value::{Closure, Env, Symbol, Value, cons, take_pending_finalizers};
use gc_api::{Gc, Interner};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write;
use std::rc::Rc;

/// Compiled code.
#[derive(Debug)]
pub enum Expr {
    /// A literal (the same object every time it is evaluated, like CPython's constants).
    Const(Value),
    /// A local variable: `depth` frames out, slot `idx`.
    Local {
        /// Frames to walk out.
        depth: usize,
        /// Slot in that frame.
        idx: usize,
    },
    /// A global variable.
    Global {
        /// Symbol number.
        sym: u32,
        /// Where it is used (for "unbound variable").
        line: usize,
    },
    /// `set!` (or an internal `define`) of a local.
    SetLocal {
        /// Frames to walk out.
        depth: usize,
        /// Slot in that frame.
        idx: usize,
        /// The new value.
        value: Box<Expr>,
    },
    /// `set!` of a global (which must exist).
    SetGlobal {
        /// Symbol number.
        sym: u32,
        /// The new value.
        value: Box<Expr>,
        /// Source line.
        line: usize,
    },
    /// A top-level `define`.
    DefineGlobal {
        /// Symbol number.
        sym: u32,
        /// The value.
        value: Box<Expr>,
    },
    /// `if`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `lambda`: makes a closure over the current frame.
    Lambda(Rc<Lambda>),
    /// `begin` / a body.
    Seq(Vec<Expr>),
    /// `and`.
    And(Vec<Expr>),
    /// `or`.
    Or(Vec<Expr>),
    /// `let` (inits evaluated outside the new frame) or `letrec` (`rec`: inside it).
    Let {
        /// Initial values of the first slots.
        inits: Vec<Expr>,
        /// Slots in the new frame.
        size: usize,
        /// The body.
        body: Box<Expr>,
        /// Whether the inits see the new frame.
        rec: bool,
    },
    /// Named `let`: a frame holding the loop procedure, which is then called.
    NamedLet {
        /// Initial arguments.
        inits: Vec<Expr>,
        /// The loop procedure's code.
        lambda: Rc<Lambda>,
        /// Source line.
        line: usize,
    },
    /// A procedure call.
    Call {
        /// The procedure.
        f: Box<Expr>,
        /// The arguments.
        args: Vec<Expr>,
        /// Source line.
        line: usize,
    },
}

/// A compiled `lambda`.
#[derive(Debug)]
pub struct Lambda {
    /// Required parameters.
    pub nparams: usize,
    /// Whether the rest of the arguments are collected into a list.
    pub rest: bool,
    /// Slots in the frame (parameters, then internal defines).
    pub size: usize,
    /// The body.
    pub body: Expr,
    /// The name it was defined under.
    pub name: Option<String>,
}

/// A primitive procedure.
pub struct Builtin {
    /// Its name.
    pub name: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments (`None`: any number).
    pub max: Option<usize>,
    /// The implementation.
    pub func: fn(&Interp, Vec<Value>) -> Result<Value, Error>,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#<builtin {}>", self.name)
    }
}

/// What evaluating an expression in tail position gives: a value, or a call still to make.
pub(crate) enum Ret {
    Val(Value),
    Tail(Value, Vec<Value>, usize),
}

/// The default limit on nested (non-tail) procedure calls.
pub const DEFAULT_MAX_DEPTH: usize = 10_000;

/// The default Rust stack budget of an interpreter (see [`Interp::set_stack_budget`]).
pub const DEFAULT_STACK_BUDGET: usize = 1 << 20;

/// The address of a local: how deep the Rust stack is (it grows downwards).
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker as *const u8 as usize)
}

/// An interpreter: globals, symbol table and output. It lives on one thread, whose
/// `gc_api` heap holds every value.
pub struct Interp {
    globals: RefCell<Vec<Option<Value>>>,
    sym_nums: RefCell<HashMap<String, u32>>,
    sym_names: RefCell<Vec<String>>,
    symbols: Interner<Symbol>,
    small_ints: Vec<Gc<i64>>,
    out: RefCell<Box<dyn Write>>,
    depth: Cell<usize>,
    max_depth: Cell<usize>,
    stack_base: Cell<usize>,
    stack_budget: Cell<usize>,
    pub(crate) args: Vec<String>,
}

impl std::fmt::Debug for Interp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interp")
            .field("globals", &self.globals.borrow().iter().flatten().count())
            .field("max_depth", &self.max_depth.get())
            .finish_non_exhaustive()
    }
}

/// Smallest and largest cached integers (CPython's `_PyLong_SMALL_INTS`).
pub const SMALL_INT_MIN: i64 = -5;
/// See [`SMALL_INT_MIN`].
pub const SMALL_INT_MAX: i64 = 256;

impl Interp {
    /// An interpreter writing to `out`; `args` are what `(command-line)` returns.
    pub fn new(out: Box<dyn Write>, args: Vec<String>) -> Interp {
        let ints: Interner<i64> = Interner::new();
        let small_ints = (SMALL_INT_MIN..=SMALL_INT_MAX)
            .map(|n| ints.intern(n))
            .collect();
        let interp = Interp {
            globals: RefCell::new(Vec::new()),
            sym_nums: RefCell::new(HashMap::new()),
            sym_names: RefCell::new(Vec::new()),
            symbols: Interner::new(),
            small_ints,
            out: RefCell::new(out),
            depth: Cell::new(0),
            max_depth: Cell::new(DEFAULT_MAX_DEPTH),
            stack_base: Cell::new(0),
            stack_budget: Cell::new(DEFAULT_STACK_BUDGET),
            args,
        };
        crate::builtins::install(&interp);
        interp
    }

    /// Sets the limit on nested (non-tail) calls; deeper recursion is an error.
    pub fn set_max_depth(&self, depth: usize) {
        self.max_depth.set(depth);
    }

    /// Sets how many bytes of Rust stack evaluation may use before a call fails with
    /// "recursion too deep" (a safety net under the depth limit; the default,
    /// [`DEFAULT_STACK_BUDGET`], suits any thread; [`crate::run_on_big_stack`] threads can
    /// afford [`crate::BIG_STACK_BUDGET`]).
    pub fn set_stack_budget(&self, bytes: usize) {
        self.stack_budget.set(bytes);
    }

    /// The symbol number of `name` (for variables).
    pub(crate) fn sym_num(&self, name: &str) -> u32 {
        if let Some(&n) = self.sym_nums.borrow().get(name) {
            return n;
        }
        let mut names = self.sym_names.borrow_mut();
        let n = names.len() as u32;
        names.push(name.to_string());
        self.sym_nums.borrow_mut().insert(name.to_string(), n);
        n
    }

    fn sym_name(&self, n: u32) -> String {
        self.sym_names
            .borrow()
            .get(n as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// The interned symbol `name`.
    pub fn symbol(&self, name: &str) -> Value {
        Value::Sym(self.symbols.intern(Symbol(name.to_string())))
    }

    /// An integer: the cached object for -5..=256, a new one otherwise.
    pub fn int(&self, n: i64) -> Value {
        if (SMALL_INT_MIN..=SMALL_INT_MAX).contains(&n) {
            Value::Int(self.small_ints[(n - SMALL_INT_MIN) as usize].clone())
        } else {
            Value::Int(Gc::new(n))
        }
    }

    /// Defines a global.
    pub fn define(&self, name: &str, v: Value) {
        let n = self.sym_num(name) as usize;
        let old = {
            let mut g = self.globals.borrow_mut();
            if g.len() <= n {
                g.resize(n + 1, None);
            }
            g[n].replace(v)
        };
        drop(old);
    }

    /// Writes text to the program's output.
    pub fn write_out(&self, s: &str) -> Result<(), Error> {
        self.out
            .borrow_mut()
            .write_all(s.as_bytes())
            .map_err(|e| Error::msg(format!("output error: {e}")))
    }

    /// Flushes the program's output.
    pub fn flush(&self) {
        let _ = self.out.borrow_mut().flush();
    }

    /// Reads, compiles and runs every form of `src`; returns the last value.
    pub fn run_source(&self, src: &str) -> Result<Value, Error> {
        let mut reader = Reader::new(src, 1);
        let mut last = Value::Void;
        while let Some(d) = reader.next_datum()? {
            last = self.run_datum(&d)?;
        }
        Ok(last)
    }

    /// Compiles and runs one top-level form.
    pub fn run_datum(&self, d: &crate::reader::Datum) -> Result<Value, Error> {
        let e = self.compile_toplevel(d)?;
        self.depth.set(0);
        self.stack_base.set(stack_pointer());
        let r = self.eval(&e, &None);
        self.run_finalizers(d.line);
        r
    }

    /// Runs finalizer thunks queued by records that died.
    #[inline]
    pub(crate) fn run_finalizers(&self, line: usize) {
        if crate::value::has_pending_finalizers() {
            self.run_finalizers_slow(line);
        }
    }

    #[cold]
    fn run_finalizers_slow(&self, line: usize) {
        loop {
            let pending = take_pending_finalizers();
            if pending.is_empty() {
                return;
            }
            for (proc_, record) in pending {
                let args = record.map(Value::Record).into_iter().collect();
                if let Err(e) = self.apply(proc_, args, line) {
                    self.flush();
                    eprintln!("{}", e.with_context("in finalizer"));
                }
            }
        }
    }

    pub(crate) fn eval(&self, e: &Expr, env: &Option<Gc<Env>>) -> Result<Value, Error> {
        match self.ev(e, env, false)? {
            Ret::Val(v) => Ok(v),
            Ret::Tail(f, args, line) => self.apply(f, args, line),
        }
    }

    fn frame(env: &Option<Gc<Env>>, depth: usize) -> Option<Gc<Env>> {
        let mut cur = env.clone()?;
        for _ in 0..depth {
            let next = cur.parent.clone()?;
            cur = next;
        }
        Some(cur)
    }

    fn ev(&self, e: &Expr, env: &Option<Gc<Env>>, tail: bool) -> Result<Ret, Error> {
        let v = match e {
            Expr::Const(v) => v.clone(),
            Expr::Local { depth, idx } => {
                if *depth == 0 {
                    match env {
                        Some(f) => f.vals.borrow().get(*idx).cloned().unwrap_or(Value::Void),
                        None => Value::Void,
                    }
                } else {
                    match Self::frame(env, *depth) {
                        Some(f) => f.vals.borrow().get(*idx).cloned().unwrap_or(Value::Void),
                        None => Value::Void,
                    }
                }
            }
            Expr::Global { sym, line } => {
                let found = self.globals.borrow().get(*sym as usize).cloned().flatten();
                match found {
                    Some(v) => v,
                    None => {
                        return Err(Error::new(
                            *line,
                            format!("unbound variable: {}", self.sym_name(*sym)),
                        ));
                    }
                }
            }
            Expr::SetLocal { depth, idx, value } => {
                let v = self.eval(value, env)?;
                if let Some(f) = Self::frame(env, *depth) {
                    let old = f
                        .vals
                        .borrow_mut()
                        .get_mut(*idx)
                        .map(|slot| std::mem::replace(slot, v));
                    drop(old);
                }
                Value::Void
            }
            Expr::SetGlobal { sym, value, line } => {
                let v = self.eval(value, env)?;
                let old = {
                    let mut g = self.globals.borrow_mut();
                    match g.get_mut(*sym as usize) {
                        Some(slot @ Some(_)) => slot.replace(v),
                        _ => {
                            drop(g);
                            return Err(Error::new(
                                *line,
                                format!("set! of unbound variable: {}", self.sym_name(*sym)),
                            ));
                        }
                    }
                };
                drop(old);
                Value::Void
            }
            Expr::DefineGlobal { sym, value } => {
                let v = self.eval(value, env)?;
                self.define(&self.sym_name(*sym), v);
                Value::Void
            }
            Expr::If(t, a, b) => {
                let branch = if self.eval(t, env)?.truthy() { a } else { b };
                return self.ev(branch, env, tail);
            }
            Expr::Lambda(lam) => Value::Closure(Gc::new(Closure {
                lambda: lam.clone(),
                env: env.clone(),
            })),
            Expr::Seq(es) => {
                if let Some((last, init)) = es.split_last() {
                    for e in init {
                        self.eval(e, env)?;
                    }
                    return self.ev(last, env, tail);
                }
                Value::Void
            }
            Expr::And(es) => {
                let Some((last, init)) = es.split_last() else {
                    return Ok(Ret::Val(Value::Bool(true)));
                };
                for e in init {
                    let v = self.eval(e, env)?;
                    if !v.truthy() {
                        return Ok(Ret::Val(v));
                    }
                }
                return self.ev(last, env, tail);
            }
            Expr::Or(es) => {
                let Some((last, init)) = es.split_last() else {
                    return Ok(Ret::Val(Value::Bool(false)));
                };
                for e in init {
                    let v = self.eval(e, env)?;
                    if v.truthy() {
                        return Ok(Ret::Val(v));
                    }
                }
                return self.ev(last, env, tail);
            }
            Expr::Let {
                inits,
                size,
                body,
                rec,
            } => {
                let new_env = if *rec {
                    let frame = Gc::new(Env {
                        vals: RefCell::new(vec![Value::Void; *size]),
                        parent: env.clone(),
                    });
                    let frame = Some(frame);
                    for (i, init) in inits.iter().enumerate() {
                        let v = self.eval(init, &frame)?;
                        if let Some(f) = &frame {
                            let old = std::mem::replace(&mut f.vals.borrow_mut()[i], v);
                            drop(old);
                        }
                    }
                    frame
                } else {
                    let mut vals = Vec::with_capacity(*size);
                    for init in inits {
                        vals.push(self.eval(init, env)?);
                    }
                    vals.resize(*size, Value::Void);
                    Some(Gc::new(Env {
                        vals: RefCell::new(vals),
                        parent: env.clone(),
                    }))
                };
                return self.ev(body, &new_env, tail);
            }
            Expr::NamedLet {
                inits,
                lambda,
                line,
            } => {
                let mut args = Vec::with_capacity(inits.len());
                for init in inits {
                    args.push(self.eval(init, env)?);
                }
                let frame = Gc::new(Env {
                    vals: RefCell::new(vec![Value::Void]),
                    parent: env.clone(),
                });
                let f = Value::Closure(Gc::new(Closure {
                    lambda: lambda.clone(),
                    env: Some(frame.clone()),
                }));
                frame.vals.borrow_mut()[0] = f.clone();
                return if tail {
                    Ok(Ret::Tail(f, args, *line))
                } else {
                    self.apply(f, args, *line).map(Ret::Val)
                };
            }
            Expr::Call { f, args, line } => {
                let fv = self.eval(f, env)?;
                let mut argv = Vec::with_capacity(args.len());
                for a in args {
                    argv.push(self.eval(a, env)?);
                }
                match fv {
                    Value::Closure(_) if tail => return Ok(Ret::Tail(fv, argv, *line)),
                    // Builtins do not nest evaluation (except map, apply and friends,
                    // which go through `apply`), so they skip the depth checks.
                    Value::Builtin(b) => {
                        let r = self.call_builtin(b, argv, *line);
                        self.run_finalizers(*line);
                        r?
                    }
                    _ => self.apply(fv, argv, *line)?,
                }
            }
        };
        Ok(Ret::Val(v))
    }

    /// Calls `f` with `args`; `line` is the call site (for error messages).
    pub fn apply(&self, f: Value, args: Vec<Value>, line: usize) -> Result<Value, Error> {
        let depth = self.depth.get() + 1;
        if depth > self.max_depth.get() {
            return Err(Error::new(
                line,
                format!(
                    "recursion too deep (more than {} nested calls)",
                    self.max_depth.get()
                ),
            ));
        }
        let base = self.stack_base.get();
        if base != 0 && base.saturating_sub(stack_pointer()) > self.stack_budget.get() {
            return Err(Error::new(
                line,
                format!("recursion too deep (Rust stack budget exhausted at {depth} nested calls)"),
            ));
        }
        self.depth.set(depth);
        let r = self.apply_inner(f, args, line);
        self.depth.set(depth - 1);
        self.run_finalizers(line);
        r
    }

    fn apply_inner(&self, f: Value, args: Vec<Value>, line: usize) -> Result<Value, Error> {
        let mut f = f;
        let mut args = args;
        let mut line = line;
        loop {
            match f {
                Value::Closure(c) => {
                    let lam = c.lambda.clone();
                    let env = Some(self.bind(&c, &lam, args, line)?);
                    drop(c);
                    match self.ev(&lam.body, &env, true)? {
                        Ret::Val(v) => return Ok(v),
                        Ret::Tail(nf, na, nl) => {
                            f = nf;
                            args = na;
                            line = nl;
                        }
                    }
                }
                Value::Builtin(b) => return self.call_builtin(b, args, line),
                Value::RecordProc(p) => {
                    return crate::builtins::record_proc(self, &p, args).map_err(|e| e.at(line));
                }
                other => {
                    return Err(Error::new(
                        line,
                        format!("not a procedure: {}", other.to_text(true)),
                    ));
                }
            }
        }
    }

    #[inline]
    fn call_builtin(&self, b: &Builtin, args: Vec<Value>, line: usize) -> Result<Value, Error> {
        if args.len() < b.min || b.max.is_some_and(|m| args.len() > m) {
            return Err(Error::new(
                line,
                arity_msg(b.name, b.min, b.max, args.len()),
            ));
        }
        (b.func)(self, args).map_err(|e| e.at(line))
    }

    fn bind(
        &self,
        c: &Gc<Closure>,
        lam: &Lambda,
        mut args: Vec<Value>,
        line: usize,
    ) -> Result<Gc<Env>, Error> {
        let n = lam.nparams;
        if args.len() < n || (!lam.rest && args.len() > n) {
            let name = lam.name.as_deref().unwrap_or("#<procedure>");
            let max = if lam.rest { None } else { Some(n) };
            return Err(Error::new(line, arity_msg(name, n, max, args.len())));
        }
        if lam.rest {
            let rest = args.split_off(n);
            let mut list = Value::Nil;
            for v in rest.into_iter().rev() {
                list = cons(v, list);
            }
            args.push(list);
        }
        args.resize(lam.size, Value::Void);
        Ok(Gc::new(Env {
            vals: RefCell::new(args),
            parent: c.env.clone(),
        }))
    }
}

fn arity_msg(name: &str, min: usize, max: Option<usize>, got: usize) -> String {
    let want = match max {
        Some(m) if m == min => format!("{min}"),
        Some(m) => format!("{min} to {m}"),
        None => format!("at least {min}"),
    };
    format!("{name}: expected {want} argument(s), got {got}")
}

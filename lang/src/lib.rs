//! `gc-lang`: a small Scheme whose heap is `gc_api`.
//!
//! Every heap value of the language (pairs, closures, environment frames, strings,
//! vectors, records, integers) is a `gc_api::Gc` object; symbols and the integers
//! -5..=256 come from `gc_api::Interner`, so equal ones are one object, as with CPython's
//! small-int cache and `sys.intern`. Closures capture their environment frame, so ordinary
//! programs make reference cycles (a local recursive function is a frame that points at
//! a closure that points back at the frame); reference counting frees everything else at
//! once and the cycle collector frees those.
//!
//! ```
//! let out = gc_lang::run_to_string("(define (f n) (if (= n 0) 1 (* n (f (- n 1))))) (display (f 10))");
//! assert_eq!(out.unwrap(), "3628800");
//! ```
//!
//! Errors in programs are [`Error`]s carrying a line number; the interpreter never panics
//! on a user program. Deep (non-tail) recursion is limited to [`interp::DEFAULT_MAX_DEPTH`]
//! nested calls (configurable up to [`MAX_DEPTH_LIMIT`]); run the interpreter on a thread
//! made by [`run_on_big_stack`] so that the Rust stack never runs out first. Tail calls
//! do not grow the stack.

pub mod builtins;
mod compile;
pub mod interp;
pub mod reader;
pub mod value;

pub use interp::Interp;
pub use value::Value;

use std::cell::RefCell;
use std::fmt;
use std::io::Write;
use std::rc::Rc;

/// The largest recursion limit [`Interp::set_max_depth`] should be given on a thread made
/// by [`run_on_big_stack`].
pub const MAX_DEPTH_LIMIT: usize = 100_000;

/// Stack size of [`run_on_big_stack`] threads (virtual memory; only used pages cost).
pub const BIG_STACK: usize = 4 << 30;

/// The stack budget for interpreters on [`run_on_big_stack`] threads.
pub const BIG_STACK_BUDGET: usize = BIG_STACK - (256 << 20);

/// An error in a user program: a message and the line it happened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 1-based line (0 while not yet known).
    pub line: usize,
    /// The message.
    pub msg: String,
    /// Whether the source ended in the middle of a datum (the REPL reads more).
    pub incomplete: bool,
}

impl Error {
    /// An error at `line`.
    pub fn new(line: usize, msg: impl Into<String>) -> Error {
        Error {
            line,
            msg: msg.into(),
            incomplete: false,
        }
    }

    /// An error whose line the caller fills in.
    pub fn msg(msg: impl Into<String>) -> Error {
        Error::new(0, msg)
    }

    /// Source that ended too early.
    pub(crate) fn eof(line: usize, msg: impl Into<String>) -> Error {
        Error {
            incomplete: true,
            ..Error::new(line, msg)
        }
    }

    /// Sets the line if it is not known yet.
    pub fn at(mut self, line: usize) -> Error {
        if self.line == 0 {
            self.line = line;
        }
        self
    }

    /// Prefixes the message.
    pub fn with_context(mut self, ctx: &str) -> Error {
        self.msg = format!("{ctx}: {}", self.msg);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

impl std::error::Error for Error {}

/// Runs `f` on a new thread with a [`BIG_STACK`] stack and returns its result. The
/// interpreter and every value it makes live on that thread's `gc_api` heap.
pub fn run_on_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::Builder::new()
        .name("gc-scheme".into())
        .stack_size(BIG_STACK)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start the interpreter thread: {e}"));
    match handle.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// A `Write` into a shared buffer (for capturing a program's output).
#[derive(Debug, Clone, Default)]
pub struct SharedBuf(pub Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `src` on the current thread with a fresh interpreter and returns what it printed,
/// or the first error (with the output before it).
pub fn run_to_string(src: &str) -> Result<String, (Error, String)> {
    let buf = SharedBuf::default();
    let interp = Interp::new(Box::new(buf.clone()), Vec::new());
    let r = interp.run_source(src);
    drop(interp);
    let out = String::from_utf8_lossy(&buf.0.borrow()).into_owned();
    match r {
        Ok(_) => Ok(out),
        Err(e) => Err((e, out)),
    }
}

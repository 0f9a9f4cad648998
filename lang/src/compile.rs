//! The compiler: `Datum` trees to `Expr` trees with resolved variables. Local variables
//! become (frame depth, slot) pairs, globals become symbol numbers; derived forms (`let*`,
//! `do`, `when`, `unless`, `cond`) become core ones.

use crate::Error;
use crate::interp::{Expr, Interp, Lambda};
use crate::reader::{Datum, DatumKind};
use crate::value::{RecordOp, RecordProc, RecordType, Value};
use gc_api::Gc;
use std::rc::Rc;

/// Lexical scopes being compiled, innermost last; each is one runtime frame.
#[derive(Debug, Default)]
pub(crate) struct Scopes {
    frames: Vec<Vec<u32>>,
}

impl Scopes {
    fn resolve(&self, sym: u32) -> Option<(usize, usize)> {
        for (depth, frame) in self.frames.iter().rev().enumerate() {
            if let Some(idx) = frame.iter().position(|&s| s == sym) {
                return Some((depth, idx));
            }
        }
        None
    }
}

fn err(d: &Datum, msg: impl Into<String>) -> Error {
    Error::new(d.line, msg)
}

fn sym_datum(name: &str, line: usize) -> Datum {
    Datum {
        kind: DatumKind::Sym(name.to_string()),
        line,
    }
}

fn list_datum(items: Vec<Datum>, line: usize) -> Datum {
    Datum {
        kind: DatumKind::List(items, None),
        line,
    }
}

impl Interp {
    /// Compiles one top-level form.
    pub(crate) fn compile_toplevel(&self, d: &Datum) -> Result<Expr, Error> {
        let mut scopes = Scopes::default();
        self.compile(d, &mut scopes, true)
    }

    /// The value a quoted datum denotes.
    pub(crate) fn datum_to_value(&self, d: &Datum) -> Value {
        match &d.kind {
            DatumKind::Int(n) => self.int(*n),
            DatumKind::Str(s) => Value::Str(Gc::new(s.clone())),
            DatumKind::Sym(s) => self.symbol(s),
            DatumKind::Bool(b) => Value::Bool(*b),
            DatumKind::List(items, tail) => {
                let mut out = match tail {
                    Some(t) => self.datum_to_value(t),
                    None => Value::Nil,
                };
                for item in items.iter().rev() {
                    out = crate::value::cons(self.datum_to_value(item), out);
                }
                out
            }
            DatumKind::Vector(items) => Value::Vector(Gc::new(std::cell::RefCell::new(
                items.iter().map(|i| self.datum_to_value(i)).collect(),
            ))),
        }
    }

    fn compile(&self, d: &Datum, sc: &mut Scopes, def_ok: bool) -> Result<Expr, Error> {
        match &d.kind {
            DatumKind::Int(_) | DatumKind::Str(_) | DatumKind::Bool(_) => {
                Ok(Expr::Const(self.datum_to_value(d)))
            }
            DatumKind::Vector(_) => Ok(Expr::Const(self.datum_to_value(d))),
            DatumKind::Sym(name) => {
                let sym = self.sym_num(name);
                Ok(match sc.resolve(sym) {
                    Some((depth, idx)) => Expr::Local { depth, idx },
                    None => Expr::Global { sym, line: d.line },
                })
            }
            DatumKind::List(items, tail) => {
                if tail.is_some() {
                    return Err(err(d, "dotted list in code"));
                }
                let Some(head) = items.first() else {
                    return Err(err(d, "empty combination ()"));
                };
                if let Some(name) = head.sym()
                    && sc.resolve(self.sym_num(name)).is_none()
                    && let Some(e) = self.compile_special(name, d, items, sc, def_ok)?
                {
                    return Ok(e);
                }
                let f = self.compile(head, sc, false)?;
                let args = items[1..]
                    .iter()
                    .map(|a| self.compile(a, sc, false))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Expr::Call {
                    f: Box::new(f),
                    args,
                    line: d.line,
                })
            }
        }
    }

    fn compile_seq(&self, forms: &[Datum], sc: &mut Scopes, def_ok: bool) -> Result<Expr, Error> {
        let mut out = forms
            .iter()
            .map(|f| self.compile(f, sc, def_ok))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if out.len() == 1 {
            out.pop().unwrap_or(Expr::Const(Value::Void))
        } else if out.is_empty() {
            Expr::Const(Value::Void)
        } else {
            Expr::Seq(out)
        })
    }

    /// Names a body defines (at its start, or inside `begin`s there).
    fn scan_defines(&self, forms: &[Datum], out: &mut Vec<u32>) {
        for f in forms {
            let DatumKind::List(items, None) = &f.kind else {
                continue;
            };
            match items.first().and_then(Datum::sym) {
                Some("define") => {
                    let name = items.get(1).and_then(|t| match &t.kind {
                        DatumKind::Sym(s) => Some(s.as_str()),
                        DatumKind::List(v, _) => v.first().and_then(Datum::sym),
                        _ => None,
                    });
                    if let Some(n) = name {
                        out.push(self.sym_num(n));
                    }
                }
                Some("begin") => self.scan_defines(&items[1..], out),
                Some("define-record-type") => {
                    for n in record_names(items) {
                        out.push(self.sym_num(n));
                    }
                }
                _ => {}
            }
        }
    }

    /// Compiles a body in a new frame that starts with `params`; returns it and the frame size.
    fn compile_body(
        &self,
        d: &Datum,
        forms: &[Datum],
        params: Vec<u32>,
        sc: &mut Scopes,
    ) -> Result<(Expr, usize), Error> {
        if forms.is_empty() {
            return Err(err(d, "empty body"));
        }
        let mut frame = params;
        let mut defs = Vec::new();
        self.scan_defines(forms, &mut defs);
        for s in defs {
            if !frame.contains(&s) {
                frame.push(s);
            }
        }
        sc.frames.push(frame);
        let body = self.compile_seq(forms, sc, true);
        let frame = sc.frames.pop().unwrap_or_default();
        Ok((body?, frame.len()))
    }

    fn compile_lambda(
        &self,
        d: &Datum,
        formals: &Datum,
        body: &[Datum],
        name: Option<String>,
        sc: &mut Scopes,
    ) -> Result<Rc<Lambda>, Error> {
        let (names, rest): (Vec<&Datum>, Option<&Datum>) = match &formals.kind {
            DatumKind::Sym(_) => (Vec::new(), Some(formals)),
            DatumKind::List(items, tail) => (items.iter().collect(), tail.as_deref()),
            _ => return Err(err(formals, "bad parameter list")),
        };
        let mut params = Vec::new();
        for p in names.iter().copied().chain(rest) {
            let Some(n) = p.sym() else {
                return Err(err(p, "parameter must be a symbol"));
            };
            let s = self.sym_num(n);
            if params.contains(&s) {
                return Err(err(p, format!("duplicate parameter {n}")));
            }
            params.push(s);
        }
        let (body, size) = self.compile_body(d, body, params, sc)?;
        Ok(Rc::new(Lambda {
            nparams: names.len(),
            rest: rest.is_some(),
            size,
            body,
            name,
        }))
    }

    fn compile_define_target(
        &self,
        d: &Datum,
        name: &str,
        value: Expr,
        sc: &mut Scopes,
    ) -> Result<Expr, Error> {
        let sym = self.sym_num(name);
        if sc.frames.is_empty() {
            return Ok(Expr::DefineGlobal {
                sym,
                value: Box::new(value),
            });
        }
        match sc.resolve(sym) {
            Some((0, idx)) => Ok(Expr::SetLocal {
                depth: 0,
                idx,
                value: Box::new(value),
            }),
            _ => Err(err(d, "define is only allowed at the start of a body")),
        }
    }

    fn compile_set(
        &self,
        d: &Datum,
        name: &Datum,
        value: Expr,
        sc: &Scopes,
    ) -> Result<Expr, Error> {
        let Some(n) = name.sym() else {
            return Err(err(name, "set! needs a symbol"));
        };
        let sym = self.sym_num(n);
        Ok(match sc.resolve(sym) {
            Some((depth, idx)) => Expr::SetLocal {
                depth,
                idx,
                value: Box::new(value),
            },
            None => Expr::SetGlobal {
                sym,
                value: Box::new(value),
                line: d.line,
            },
        })
    }

    /// Bindings `((name init) ...)`.
    fn bindings<'d>(&self, b: &'d Datum) -> Result<Vec<(&'d str, &'d Datum)>, Error> {
        let DatumKind::List(items, None) = &b.kind else {
            return Err(err(b, "bad binding list"));
        };
        items
            .iter()
            .map(|item| match &item.kind {
                DatumKind::List(pair, None) if pair.len() == 2 => match pair[0].sym() {
                    Some(n) => Ok((n, &pair[1])),
                    None => Err(err(item, "binding name must be a symbol")),
                },
                _ => Err(err(item, "binding must be (name value)")),
            })
            .collect()
    }

    #[allow(clippy::too_many_lines)]
    fn compile_special(
        &self,
        name: &str,
        d: &Datum,
        items: &[Datum],
        sc: &mut Scopes,
        def_ok: bool,
    ) -> Result<Option<Expr>, Error> {
        let argc = items.len() - 1;
        let need = |ok: bool, what: &str| -> Result<(), Error> {
            if ok {
                Ok(())
            } else {
                Err(err(d, format!("bad syntax: {what}")))
            }
        };
        let e = match name {
            "quote" => {
                need(argc == 1, "(quote datum)")?;
                Expr::Const(self.datum_to_value(&items[1]))
            }
            "if" => {
                need(argc == 2 || argc == 3, "(if test then [else])")?;
                let t = self.compile(&items[1], sc, false)?;
                let a = self.compile(&items[2], sc, false)?;
                let b = match items.get(3) {
                    Some(x) => self.compile(x, sc, false)?,
                    None => Expr::Const(Value::Void),
                };
                Expr::If(Box::new(t), Box::new(a), Box::new(b))
            }
            "define" => {
                if !def_ok {
                    return Err(err(
                        d,
                        "define is only allowed at the top level or the start of a body",
                    ));
                }
                need(argc >= 1, "(define name value)")?;
                match &items[1].kind {
                    DatumKind::Sym(n) => {
                        need(argc <= 2, "(define name value)")?;
                        let value = match items.get(2) {
                            Some(v) => self.compile_named(v, n, sc)?,
                            None => Expr::Const(Value::Void),
                        };
                        self.compile_define_target(d, n, value, sc)?
                    }
                    DatumKind::List(sig, tail) if !sig.is_empty() => {
                        let Some(n) = sig[0].sym() else {
                            return Err(err(d, "bad syntax: (define (name args...) body...)"));
                        };
                        let formals = Datum {
                            kind: DatumKind::List(sig[1..].to_vec(), tail.clone()),
                            line: items[1].line,
                        };
                        let lam =
                            self.compile_lambda(d, &formals, &items[2..], Some(n.to_string()), sc)?;
                        self.compile_define_target(d, n, Expr::Lambda(lam), sc)?
                    }
                    _ => return Err(err(d, "bad syntax: define")),
                }
            }
            "set!" => {
                need(argc == 2, "(set! name value)")?;
                let v = self.compile(&items[2], sc, false)?;
                self.compile_set(d, &items[1], v, sc)?
            }
            "lambda" => {
                need(argc >= 2, "(lambda params body...)")?;
                Expr::Lambda(self.compile_lambda(d, &items[1], &items[2..], None, sc)?)
            }
            "begin" => {
                if argc == 0 {
                    Expr::Const(Value::Void)
                } else {
                    self.compile_seq(&items[1..], sc, def_ok)?
                }
            }
            "let" => {
                need(argc >= 2, "(let bindings body...)")?;
                if let Some(loop_name) = items[1].sym() {
                    need(argc >= 3, "(let name bindings body...)")?;
                    let binds = self.bindings(&items[2])?;
                    let inits = binds
                        .iter()
                        .map(|(_, v)| self.compile(v, sc, false))
                        .collect::<Result<Vec<_>, _>>()?;
                    let formals = list_datum(
                        binds.iter().map(|(n, _)| sym_datum(n, d.line)).collect(),
                        d.line,
                    );
                    sc.frames.push(vec![self.sym_num(loop_name)]);
                    let lam = self.compile_lambda(
                        d,
                        &formals,
                        &items[3..],
                        Some(loop_name.to_string()),
                        sc,
                    );
                    sc.frames.pop();
                    Expr::NamedLet {
                        inits,
                        lambda: lam?,
                        line: d.line,
                    }
                } else {
                    let binds = self.bindings(&items[1])?;
                    let inits = binds
                        .iter()
                        .map(|(_, v)| self.compile(v, sc, false))
                        .collect::<Result<Vec<_>, _>>()?;
                    let params = self.distinct(d, binds.iter().map(|(n, _)| *n))?;
                    let (body, size) = self.compile_body(d, &items[2..], params, sc)?;
                    Expr::Let {
                        inits,
                        size,
                        body: Box::new(body),
                        rec: false,
                    }
                }
            }
            "letrec" | "letrec*" => {
                need(argc >= 2, "(letrec bindings body...)")?;
                let binds = self.bindings(&items[1])?;
                let params = self.distinct(d, binds.iter().map(|(n, _)| *n))?;
                let mut frame = params;
                let mut defs = Vec::new();
                self.scan_defines(&items[2..], &mut defs);
                for s in defs {
                    if !frame.contains(&s) {
                        frame.push(s);
                    }
                }
                sc.frames.push(frame);
                let inits = binds
                    .iter()
                    .map(|(n, v)| self.compile_named(v, n, sc))
                    .collect::<Result<Vec<_>, _>>();
                let body = self.compile_seq(&items[2..], sc, true);
                let size = sc.frames.pop().map_or(0, |f| f.len());
                Expr::Let {
                    inits: inits?,
                    size,
                    body: Box::new(body?),
                    rec: true,
                }
            }
            "let*" => {
                need(argc >= 2, "(let* bindings body...)")?;
                let DatumKind::List(binds, None) = &items[1].kind else {
                    return Err(err(d, "bad syntax: let*"));
                };
                if binds.len() <= 1 {
                    let mut v = items.to_vec();
                    v[0] = sym_datum("let", d.line);
                    return self.compile(&list_datum(v, d.line), sc, false).map(Some);
                }
                let mut inner = vec![
                    sym_datum("let*", d.line),
                    list_datum(binds[1..].to_vec(), d.line),
                ];
                inner.extend_from_slice(&items[2..]);
                let outer = list_datum(
                    vec![
                        sym_datum("let", d.line),
                        list_datum(vec![binds[0].clone()], d.line),
                        list_datum(inner, d.line),
                    ],
                    d.line,
                );
                self.compile(&outer, sc, false)?
            }
            "and" | "or" => {
                let parts = items[1..]
                    .iter()
                    .map(|x| self.compile(x, sc, false))
                    .collect::<Result<Vec<_>, _>>()?;
                if name == "and" {
                    Expr::And(parts)
                } else {
                    Expr::Or(parts)
                }
            }
            "when" | "unless" => {
                need(argc >= 1, "(when test body...)")?;
                let t = self.compile(&items[1], sc, false)?;
                let body = self.compile_seq(&items[2..], sc, false)?;
                let void = Expr::Const(Value::Void);
                if name == "when" {
                    Expr::If(Box::new(t), Box::new(body), Box::new(void))
                } else {
                    Expr::If(Box::new(t), Box::new(void), Box::new(body))
                }
            }
            "cond" => self.compile_cond(&items[1..], sc)?,
            "do" => {
                // (do ((var init step)...) (test result...) body...) as a named let.
                need(
                    argc >= 2,
                    "(do ((var init step)...) (test expr...) body...)",
                )?;
                let (DatumKind::List(specs, None), DatumKind::List(test, None)) =
                    (&items[1].kind, &items[2].kind)
                else {
                    return Err(err(d, "bad syntax: do"));
                };
                need(!test.is_empty(), "do needs a test")?;
                let mut binds = Vec::new();
                let mut steps = Vec::new();
                for s in specs {
                    match &s.kind {
                        DatumKind::List(v, None) if v.len() == 2 || v.len() == 3 => {
                            binds.push(list_datum(vec![v[0].clone(), v[1].clone()], s.line));
                            steps.push(v.get(2).unwrap_or(&v[0]).clone());
                        }
                        _ => return Err(err(s, "bad do binding")),
                    }
                }
                let lp = sym_datum(" do-loop", d.line);
                let mut again = vec![lp.clone()];
                again.extend(steps);
                let mut body = vec![sym_datum("begin", d.line)];
                body.extend_from_slice(&items[3..]);
                body.push(list_datum(again, d.line));
                let mut result = vec![sym_datum("begin", d.line)];
                result.extend_from_slice(&test[1..]);
                let form = list_datum(
                    vec![
                        sym_datum("let", d.line),
                        lp,
                        list_datum(binds, d.line),
                        list_datum(
                            vec![
                                sym_datum("if", d.line),
                                test[0].clone(),
                                list_datum(result, d.line),
                                list_datum(body, d.line),
                            ],
                            d.line,
                        ),
                    ],
                    d.line,
                );
                self.compile(&form, sc, false)?
            }
            "define-record-type" => {
                if !def_ok {
                    return Err(err(d, "define-record-type is only allowed where define is"));
                }
                self.compile_record_type(d, items, sc)?
            }
            "quasiquote" | "unquote" | "unquote-splicing" | "define-syntax" | "syntax-rules" => {
                return Err(err(d, format!("{name} is not supported")));
            }
            _ => return Ok(None),
        };
        Ok(Some(e))
    }

    /// Compiles `v`, naming it `name` if it is a lambda.
    fn compile_named(&self, v: &Datum, name: &str, sc: &mut Scopes) -> Result<Expr, Error> {
        if let DatumKind::List(items, None) = &v.kind
            && items.len() >= 3
            && items[0].sym() == Some("lambda")
            && sc.resolve(self.sym_num("lambda")).is_none()
        {
            return Ok(Expr::Lambda(self.compile_lambda(
                v,
                &items[1],
                &items[2..],
                Some(name.to_string()),
                sc,
            )?));
        }
        self.compile(v, sc, false)
    }

    fn distinct<'n>(
        &self,
        d: &Datum,
        names: impl Iterator<Item = &'n str>,
    ) -> Result<Vec<u32>, Error> {
        let mut out = Vec::new();
        for n in names {
            let s = self.sym_num(n);
            if out.contains(&s) {
                return Err(err(d, format!("duplicate binding {n}")));
            }
            out.push(s);
        }
        Ok(out)
    }

    fn compile_cond(&self, clauses: &[Datum], sc: &mut Scopes) -> Result<Expr, Error> {
        let Some((first, rest)) = clauses.split_first() else {
            return Ok(Expr::Const(Value::Void));
        };
        let DatumKind::List(parts, None) = &first.kind else {
            return Err(err(first, "bad cond clause"));
        };
        let Some(test) = parts.first() else {
            return Err(err(first, "empty cond clause"));
        };
        if test.sym() == Some("else") {
            if !rest.is_empty() {
                return Err(err(first, "else must be the last cond clause"));
            }
            return self.compile_seq(&parts[1..], sc, false);
        }
        if parts.get(1).and_then(Datum::sym) == Some("=>") {
            return Err(err(first, "cond => is not supported"));
        }
        let t = self.compile(test, sc, false)?;
        let other = self.compile_cond(rest, sc)?;
        if parts.len() == 1 {
            return Ok(Expr::Or(vec![t, other]));
        }
        let body = self.compile_seq(&parts[1..], sc, false)?;
        Ok(Expr::If(Box::new(t), Box::new(body), Box::new(other)))
    }

    /// `(define-record-type name (ctor field...) pred (field accessor [modifier])...)`:
    /// defines each procedure as a constant.
    fn compile_record_type(
        &self,
        d: &Datum,
        items: &[Datum],
        sc: &mut Scopes,
    ) -> Result<Expr, Error> {
        let bad = || {
            err(
                d,
                "bad syntax: (define-record-type name (make field...) pred? (field get [set])...)",
            )
        };
        if items.len() < 3 {
            return Err(bad());
        }
        let tname = items[1].sym().ok_or_else(bad)?.to_string();
        let mut fields = Vec::new();
        let mut accessors = Vec::new();
        for spec in &items[4..] {
            let DatumKind::List(v, None) = &spec.kind else {
                return Err(bad());
            };
            let names = v
                .iter()
                .map(Datum::sym)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?;
            if names.is_empty() || names.len() > 3 {
                return Err(bad());
            }
            let idx = fields.len();
            fields.push(names[0].to_string());
            if let Some(g) = names.get(1) {
                accessors.push((g.to_string(), RecordOp::Get(idx)));
            }
            if let Some(s) = names.get(2) {
                accessors.push((s.to_string(), RecordOp::Set(idx)));
            }
        }
        let DatumKind::List(ctor, None) = &items[2].kind else {
            return Err(bad());
        };
        let ctor_names = ctor
            .iter()
            .map(Datum::sym)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(bad)?;
        let (cname, cfields) = ctor_names.split_first().ok_or_else(bad)?;
        let mut idxs = Vec::new();
        for f in cfields {
            match fields.iter().position(|x| x == f) {
                Some(i) => idxs.push(i),
                None => {
                    return Err(err(
                        d,
                        format!("constructor field {f} is not a field of {tname}"),
                    ));
                }
            }
        }
        let rtype = Gc::new(RecordType {
            name: tname,
            fields,
        });
        let mut procs = vec![(cname.to_string(), RecordOp::Make(idxs))];
        procs.push((items[3].sym().ok_or_else(bad)?.to_string(), RecordOp::Is));
        procs.extend(accessors);
        let mut out = Vec::new();
        for (name, op) in procs {
            let p = Value::RecordProc(Gc::new(RecordProc {
                rtype: rtype.clone(),
                op,
                name: name.clone(),
            }));
            out.push(self.compile_define_target(d, &name, Expr::Const(p), sc)?);
        }
        Ok(Expr::Seq(out))
    }
}

/// The names `define-record-type` defines.
fn record_names(items: &[Datum]) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(DatumKind::List(ctor, None)) = items.get(2).map(|d| &d.kind)
        && let Some(n) = ctor.first().and_then(Datum::sym)
    {
        out.push(n);
    }
    if let Some(n) = items.get(3).and_then(Datum::sym) {
        out.push(n);
    }
    for spec in items.iter().skip(4) {
        if let DatumKind::List(v, None) = &spec.kind {
            out.extend(v.iter().skip(1).filter_map(Datum::sym));
        }
    }
    out
}

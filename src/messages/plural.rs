//! A catalogue's `Plural-Forms` header (`nplurals=3; plural=(n==1 ? 0 : …);`): which of a
//! plural entry's forms a number takes, as GNU gettext's `plural.y` grammar reads the
//! expression (C's operators and precedence, the one variable `n`, unsigned arithmetic).
//!
//! Written here because the gettext crates on crates.io (`gettext` 0.4.0 and its fork
//! `gettext-ng`) split the expression at `&&` before `?:`, so Polish's and Russian's
//! expressions (`n==1 ? 0 : n%10>=2 && … ? 1 : 2`) pick the wrong form (the tests below hold
//! the cases they get wrong); the other plural crates (`polib`, `rspolib`) only store the text.

/// Why a `Plural-Forms` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Plural-Forms {text:?}: {reason}")]
pub struct PluralError {
    pub text: String,
    pub reason: String,
}

/// A parsed `Plural-Forms`: the number of forms and the expression that picks one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluralRule {
    nplurals: usize,
    plural: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    N,
    Num(u64),
    Not(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Choice(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Nesting deeper than this is refused (no real language comes near it).
const MAX_DEPTH: usize = 64;

impl PluralRule {
    /// English's rule, for a catalogue without the header (as GNU gettext: `n != 1`).
    pub fn english() -> Self {
        Self {
            nplurals: 2,
            plural: Expr::Binary(Op::Ne, Box::new(Expr::N), Box::new(Expr::Num(1))),
        }
    }

    /// Parses a header's value: `nplurals=<count>; plural=<expression>;`.
    pub fn parse(text: &str) -> Result<Self, PluralError> {
        let fail = |reason: &str| PluralError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (mut nplurals, mut plural) = (None, None);
        for part in text.split(';') {
            let Some((name, value)) = part.split_once('=') else {
                if part.trim().is_empty() {
                    continue;
                }
                return Err(fail("expected nplurals=…; plural=…;"));
            };
            match name.trim() {
                "nplurals" => {
                    nplurals = Some(
                        value
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=100).contains(n))
                            .ok_or_else(|| fail("nplurals is not a number from 1 to 100"))?,
                    );
                }
                "plural" => plural = Some(value.trim()),
                _ => {}
            }
        }
        let nplurals = nplurals.ok_or_else(|| fail("no nplurals"))?;
        let source = plural.ok_or_else(|| fail("no plural expression"))?;
        let tokens = tokenize(source).map_err(|r| fail(&r))?;
        let mut parser = Parser { tokens, at: 0 };
        let plural = parser.choice(0).map_err(|r| fail(&r))?;
        if parser.at != parser.tokens.len() {
            return Err(fail("unexpected text after the expression"));
        }
        Ok(Self { nplurals, plural })
    }

    /// The index of the form `n` takes (0 when the expression goes past `nplurals`, as
    /// GNU gettext does).
    pub fn index(&self, n: u64) -> usize {
        usize::try_from(eval(&self.plural, n))
            .ok()
            .filter(|i| *i < self.nplurals)
            .unwrap_or(0)
    }

    pub fn nplurals(&self) -> usize {
        self.nplurals
    }
}

fn eval(expr: &Expr, n: u64) -> u64 {
    match expr {
        Expr::N => n,
        Expr::Num(v) => *v,
        Expr::Not(e) => u64::from(eval(e, n) == 0),
        Expr::Choice(c, yes, no) => {
            if eval(c, n) != 0 {
                eval(yes, n)
            } else {
                eval(no, n)
            }
        }
        Expr::Binary(op, l, r) => {
            let l = eval(l, n);
            // `&&` and `||` short-circuit, as in C.
            match op {
                Op::And => return u64::from(l != 0 && eval(r, n) != 0),
                Op::Or => return u64::from(l != 0 || eval(r, n) != 0),
                _ => {}
            }
            let r = eval(r, n);
            match op {
                Op::Eq => u64::from(l == r),
                Op::Ne => u64::from(l != r),
                Op::Lt => u64::from(l < r),
                Op::Le => u64::from(l <= r),
                Op::Gt => u64::from(l > r),
                Op::Ge => u64::from(l >= r),
                Op::Add => l.wrapping_add(r),
                Op::Sub => l.wrapping_sub(r),
                Op::Mul => l.wrapping_mul(r),
                // A division by zero gives 0 rather than stopping the server.
                Op::Div => l.checked_div(r).unwrap_or(0),
                Op::Rem => l.checked_rem(r).unwrap_or(0),
                Op::And | Op::Or => 0,
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    N,
    Num(u64),
    Op(Op),
    Not,
    Question,
    Colon,
    Open,
    Close,
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        let (token, len) = match (c, next) {
            (b' ' | b'\t' | b'\n' | b'\r', _) => {
                i += 1;
                continue;
            }
            (b'0'..=b'9', _) => {
                let len = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                let value = source[i..i + len]
                    .parse::<u64>()
                    .map_err(|_| "a number too large".to_owned())?;
                (Token::Num(value), len)
            }
            (b'n', _) => (Token::N, 1),
            (b'|', Some(b'|')) => (Token::Op(Op::Or), 2),
            (b'&', Some(b'&')) => (Token::Op(Op::And), 2),
            (b'=', Some(b'=')) => (Token::Op(Op::Eq), 2),
            (b'!', Some(b'=')) => (Token::Op(Op::Ne), 2),
            (b'<', Some(b'=')) => (Token::Op(Op::Le), 2),
            (b'>', Some(b'=')) => (Token::Op(Op::Ge), 2),
            (b'<', _) => (Token::Op(Op::Lt), 1),
            (b'>', _) => (Token::Op(Op::Gt), 1),
            (b'+', _) => (Token::Op(Op::Add), 1),
            (b'-', _) => (Token::Op(Op::Sub), 1),
            (b'*', _) => (Token::Op(Op::Mul), 1),
            (b'/', _) => (Token::Op(Op::Div), 1),
            (b'%', _) => (Token::Op(Op::Rem), 1),
            (b'!', _) => (Token::Not, 1),
            (b'?', _) => (Token::Question, 1),
            (b':', _) => (Token::Colon, 1),
            (b'(', _) => (Token::Open, 1),
            (b')', _) => (Token::Close, 1),
            _ => return Err(format!("unexpected character at {i}")),
        };
        tokens.push(token);
        i += len;
    }
    Ok(tokens)
}

/// The binary operators from the loosest to the tightest (C's levels).
const LEVELS: &[&[Op]] = &[
    &[Op::Or],
    &[Op::And],
    &[Op::Eq, Op::Ne],
    &[Op::Lt, Op::Le, Op::Gt, Op::Ge],
    &[Op::Add, Op::Sub],
    &[Op::Mul, Op::Div, Op::Rem],
];

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), String> {
        if self.peek() == Some(token) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    }

    /// `cond ? a : b`, right-associative, the loosest level.
    fn choice(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err("the expression nests too deeply".to_owned());
        }
        let cond = self.binary(0, depth)?;
        if self.peek() != Some(Token::Question) {
            return Ok(cond);
        }
        self.at += 1;
        let yes = self.choice(depth + 1)?;
        self.expect(Token::Colon, "':'")?;
        let no = self.choice(depth + 1)?;
        Ok(Expr::Choice(Box::new(cond), Box::new(yes), Box::new(no)))
    }

    /// The binary operators of `LEVELS[level]` and tighter, left-associative.
    fn binary(&mut self, level: usize, depth: usize) -> Result<Expr, String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(depth);
        };
        let mut left = self.binary(level + 1, depth)?;
        while let Some(Token::Op(op)) = self.peek() {
            if !ops.contains(&op) {
                break;
            }
            self.at += 1;
            let right = self.binary(level + 1, depth)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err("the expression nests too deeply".to_owned());
        }
        let token = self.peek().ok_or("the expression ends too early")?;
        self.at += 1;
        match token {
            Token::N => Ok(Expr::N),
            Token::Num(v) => Ok(Expr::Num(v)),
            Token::Not => Ok(Expr::Not(Box::new(self.unary(depth + 1)?))),
            Token::Open => {
                let inner = self.choice(depth + 1)?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            _ => Err("expected n, a number, '!' or '('".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expressions of Flask-Security's catalogues (and Arabic's usual one), with the form
    /// each number takes, as C computes them.
    #[test]
    fn the_expressions_of_real_catalogues_pick_the_forms_c_picks() {
        let polish = "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);";
        let russian = "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);";
        let arabic = "nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5;";
        let cases: &[(&str, &[(u64, usize)])] = &[
            (
                polish,
                &[
                    (0, 2),
                    (1, 0),
                    (2, 1),
                    (4, 1),
                    (5, 2),
                    (12, 2),
                    (21, 2),
                    (22, 1),
                    (25, 2),
                    (104, 1),
                    (112, 2),
                ],
            ),
            (
                russian,
                &[
                    (0, 2),
                    (1, 0),
                    (2, 1),
                    (5, 2),
                    (11, 2),
                    (12, 2),
                    (21, 0),
                    (22, 1),
                    (25, 2),
                    (101, 0),
                    (111, 2),
                ],
            ),
            (
                arabic,
                &[
                    (0, 0),
                    (1, 1),
                    (2, 2),
                    (3, 3),
                    (10, 3),
                    (11, 4),
                    (99, 4),
                    (100, 5),
                    (102, 5),
                    (103, 3),
                ],
            ),
            ("nplurals=2; plural=(n != 1);", &[(0, 1), (1, 0), (2, 1)]),
            ("nplurals=2; plural=(n > 1);", &[(0, 0), (1, 0), (2, 1)]),
            ("nplurals=1; plural=0;", &[(0, 0), (1, 0), (7, 0)]),
            (
                "nplurals=2; plural=n%10==1 && n%100!=11 ? 0 : 1;",
                &[(1, 0), (11, 1), (21, 0)],
            ),
            (
                "nplurals=3; plural=!(n-1) ? 0 : n*2/4+1 > 3 ? 2 : 1;",
                &[(1, 0), (2, 1), (5, 1), (6, 2)],
            ),
        ];
        for (text, numbers) in cases {
            let rule = PluralRule::parse(text).unwrap();
            for (n, form) in *numbers {
                assert_eq!(rule.index(*n), *form, "{text} for {n}");
            }
        }
    }

    #[test]
    fn bad_headers_are_refused_and_odd_values_stay_in_range() {
        for bad in [
            "plural=n != 1;",
            "nplurals=2;",
            "nplurals=x; plural=n;",
            "nplurals=2; plural=n ==;",
            "nplurals=2; plural=(n != 1;",
            "nplurals=2; plural=n ? 1;",
            "nplurals=2; plural=n $ 1;",
            "nplurals=2; plural=n 1;",
            "nplurals=0; plural=0;",
        ] {
            assert!(PluralRule::parse(bad).is_err(), "{bad}");
        }
        let deep = format!(
            "nplurals=2; plural={}n{};",
            "(".repeat(500),
            ")".repeat(500)
        );
        assert!(PluralRule::parse(&deep).is_err());
        let rule = PluralRule::parse("nplurals=2; plural=n / 0 + n % 0 + 7;").unwrap();
        assert_eq!(rule.index(3), 0, "beyond nplurals gives the first form");
        assert_eq!(PluralRule::english().index(1), 0);
        assert_eq!(PluralRule::english().index(2), 1);
    }

    proptest::proptest! {
        #[test]
        fn any_header_is_parsed_or_refused_without_panicking(text in ".{0,80}", n in 0u64..1000) {
            if let Ok(rule) = PluralRule::parse(&text) {
                proptest::prop_assert!(rule.index(n) < rule.nplurals());
            }
        }
    }
}

//! The check that SQL given to a tenant-scoped handle constrains the tenant.
//!
//! This is a guard against *forgetting* the tenant, not a parser of hostile SQL: handlers write
//! their SQL; this module makes an omission fail loudly in the first test instead of leaking
//! another tenant's rows in production. The rules, on the top-level statement:
//!
//! - exactly one statement: `SELECT`, `INSERT`, `UPDATE` or `DELETE` (no `WITH`, no `REPLACE`);
//! - `SELECT`/`UPDATE`/`DELETE`: a top-level `WHERE` whose predicate has `tenant_id = $1`
//!   (optionally qualified, `t.tenant_id = $1`) as one of its top-level `AND` terms, and no
//!   top-level `OR` (parenthesize alternatives: `tenant_id = $1 AND (a OR b)`); no top-level
//!   `UNION`/`INTERSECT`/`EXCEPT`;
//! - `UPDATE ... SET` and `ON CONFLICT ... DO UPDATE SET` never assign `tenant_id`;
//! - `INSERT`: an explicit column list containing `tenant_id`, `VALUES` rows that all put `$1`
//!   in that position; no `INSERT ... SELECT`, no `INSERT OR REPLACE`; `ON CONFLICT ... DO UPDATE`
//!   only with a conflict target that lists `tenant_id`, so the row updated is the tenant's own;
//! - the highest placeholder is `$<binds + 1>` (the tenant is `$1`, the caller's binds follow).
//!
//! Joined tables and subqueries are not checked: when they read tenant-owned tables they must
//! constrain those too (`JOIN b ON b.tenant_id = a.tenant_id AND ...`).

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// Identifier or keyword; unquoted ones are lowercased.
    Word(String),
    /// `$n`
    Param(u32),
    /// A string or number literal (content irrelevant to the check).
    Lit,
    /// Any other single character.
    Sym(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    depth: u32,
}

fn lex(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut depth: u32 = 0;
    let mut i = 0;
    let push = |tokens: &mut Vec<Token>, tok: Tok, depth: u32| tokens.push(Token { tok, depth });
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated comment".to_owned());
            }
            i += 2;
        } else if c == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string literal".to_owned()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                    Some('\'') => break,
                    Some(_) => i += 1,
                }
            }
            i += 1;
            push(&mut tokens, Tok::Lit, depth);
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated quoted identifier".to_owned());
            }
            push(
                &mut tokens,
                Tok::Word(chars[start..i].iter().collect()),
                depth,
            );
            i += 1;
        } else if c == '$' && next.is_some_and(|n| n.is_ascii_digit()) {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse::<u32>()
                .map_err(|_| format!("placeholder ${digits} is out of range"))?;
            push(&mut tokens, Tok::Param(n), depth);
        } else if c == '$' {
            // PostgreSQL dollar quoting: $tag$ ... $tag$
            let tag_start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if chars.get(i) != Some(&'$') {
                return Err("stray '$' (placeholders are $1, $2, ...)".to_owned());
            }
            let tag: Vec<char> = chars[tag_start..=i].to_vec();
            i += 1;
            loop {
                if i >= chars.len() {
                    return Err("unterminated dollar-quoted string".to_owned());
                }
                if chars[i..].starts_with(&tag) {
                    i += tag.len();
                    break;
                }
                i += 1;
            }
            push(&mut tokens, Tok::Lit, depth);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            push(&mut tokens, Tok::Word(word), depth);
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            push(&mut tokens, Tok::Lit, depth);
        } else if c == '(' {
            push(&mut tokens, Tok::Sym('('), depth);
            depth += 1;
            i += 1;
        } else if c == ')' {
            depth = depth
                .checked_sub(1)
                .ok_or_else(|| "unbalanced ')'".to_owned())?;
            push(&mut tokens, Tok::Sym(')'), depth);
            i += 1;
        } else {
            push(&mut tokens, Tok::Sym(c), depth);
            i += 1;
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_owned());
    }
    Ok(tokens)
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(&token.tok, Tok::Word(w) if w == word)
}

/// Index of the first top-level token at or after `from` that is one of `words`.
fn find_top(tokens: &[Token], from: usize, words: &[&str]) -> Option<usize> {
    (from..tokens.len())
        .find(|&i| tokens[i].depth == 0 && words.iter().any(|w| is_word(&tokens[i], w)))
}

/// Splits `tokens` on `sep` at `depth`.
fn split_at_depth<'t>(
    tokens: &'t [Token],
    depth: u32,
    sep: &dyn Fn(&Token) -> bool,
) -> Vec<&'t [Token]> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if token.depth == depth && sep(token) {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// `tenant_id`, `x.tenant_id`, with or without quotes.
fn is_tenant_column(tokens: &[Token]) -> bool {
    match tokens {
        [single] => is_word(single, "tenant_id"),
        [qualifier, dot, column] => {
            matches!(qualifier.tok, Tok::Word(_))
                && dot.tok == Tok::Sym('.')
                && is_word(column, "tenant_id")
        }
        _ => false,
    }
}

/// `tenant_id = $1` or `$1 = tenant_id`.
fn is_tenant_predicate(term: &[Token]) -> bool {
    let Some(eq) = term.iter().position(|t| t.tok == Tok::Sym('=')) else {
        return false;
    };
    let (left, right) = (&term[..eq], &term[eq + 1..]);
    let is_one = |side: &[Token]| matches!(side, [t] if t.tok == Tok::Param(1));
    (is_tenant_column(left) && is_one(right)) || (is_one(left) && is_tenant_column(right))
}

const WHERE_END: &[&str] = &[
    "group",
    "order",
    "limit",
    "offset",
    "having",
    "window",
    "for",
    "returning",
    "fetch",
];

/// The top-level `WHERE` predicate must have `tenant_id = $1` as an `AND` term.
fn check_where(tokens: &[Token], from: usize) -> Result<(), String> {
    let Some(where_at) = find_top(tokens, from, &["where"]) else {
        return Err("no top-level WHERE clause; add `WHERE tenant_id = $1`".to_owned());
    };
    let end = find_top(tokens, where_at + 1, WHERE_END).unwrap_or(tokens.len());
    let predicate = &tokens[where_at + 1..end];
    if predicate.iter().any(|t| t.depth == 0 && is_word(t, "or")) {
        return Err("top-level OR in WHERE; write `tenant_id = $1 AND (... OR ...)`".to_owned());
    }
    let terms = split_at_depth(predicate, 0, &|t| is_word(t, "and"));
    if terms.iter().any(|term| is_tenant_predicate(term)) {
        Ok(())
    } else {
        Err("WHERE does not constrain `tenant_id = $1` as a top-level AND term".to_owned())
    }
}

/// A `SET a = ..., b = ...` list (from the token after SET up to `end`) must not assign tenant_id.
fn check_set_list(tokens: &[Token]) -> Result<(), String> {
    let depth = tokens.first().map_or(0, |t| t.depth);
    for assignment in split_at_depth(tokens, depth, &|t| t.tok == Tok::Sym(',')) {
        let lhs_end = assignment
            .iter()
            .position(|t| t.tok == Tok::Sym('=') && t.depth == depth);
        let lhs = &assignment[..lhs_end.unwrap_or(assignment.len())];
        if lhs.iter().any(|t| is_word(t, "tenant_id")) {
            return Err("SET assigns tenant_id; rows never change tenant".to_owned());
        }
    }
    Ok(())
}

fn check_no_set_operations(tokens: &[Token]) -> Result<(), String> {
    match find_top(tokens, 0, &["union", "intersect", "except"]) {
        Some(_) => Err("top-level UNION/INTERSECT/EXCEPT; scope each arm in a subquery".to_owned()),
        None => Ok(()),
    }
}

fn check_update(tokens: &[Token]) -> Result<(), String> {
    let set = find_top(tokens, 1, &["set"]).ok_or_else(|| "UPDATE without SET".to_owned())?;
    let set_end =
        find_top(tokens, set + 1, &["from", "where", "returning"]).unwrap_or(tokens.len());
    check_set_list(&tokens[set + 1..set_end])?;
    check_where(tokens, set_end)
}

fn check_insert(tokens: &[Token]) -> Result<(), String> {
    if find_top(tokens, 1, &["or"]).is_some_and(|i| i == 1) {
        return Err("INSERT OR REPLACE/IGNORE is refused; use ON CONFLICT".to_owned());
    }
    let open = tokens
        .iter()
        .position(|t| t.depth == 0 && t.tok == Tok::Sym('('))
        .ok_or_else(|| {
            "INSERT without a column list; name the columns, tenant_id first".to_owned()
        })?;
    if find_top(tokens, 1, &["values", "select", "default"]).is_some_and(|i| i < open) {
        return Err("INSERT without a column list; name the columns, tenant_id first".to_owned());
    }
    let close = (open + 1..tokens.len())
        .find(|&i| tokens[i].depth == 0 && tokens[i].tok == Tok::Sym(')'))
        .ok_or_else(|| "unterminated column list".to_owned())?;
    let columns = split_at_depth(&tokens[open + 1..close], 1, &|t| t.tok == Tok::Sym(','));
    let position = columns
        .iter()
        .position(|c| matches!(c, [t] if is_word(t, "tenant_id")))
        .ok_or_else(|| "INSERT column list has no tenant_id".to_owned())?;
    if !tokens.get(close + 1).is_some_and(|t| is_word(t, "values")) {
        return Err("only INSERT ... VALUES is accepted (no INSERT ... SELECT)".to_owned());
    }
    // VALUES (...), (...) up to ON CONFLICT / RETURNING / end.
    let rows_end = find_top(tokens, close + 2, &["on", "returning"]).unwrap_or(tokens.len());
    let rows = &tokens[close + 2..rows_end];
    let rows: Vec<&[Token]> = split_at_depth(rows, 0, &|t| t.tok == Tok::Sym(','))
        .into_iter()
        .filter(|r| !(r.len() == 1 && r[0].tok == Tok::Sym(';')))
        .collect();
    for row in rows {
        let row = match row.last() {
            Some(last) if last.tok == Tok::Sym(';') => &row[..row.len() - 1],
            _ => row,
        };
        let inner = match row {
            [open, inner @ .., close]
                if open.tok == Tok::Sym('(') && close.tok == Tok::Sym(')') =>
            {
                inner
            }
            _ => return Err("VALUES rows must be parenthesized tuples".to_owned()),
        };
        let values = split_at_depth(inner, 1, &|t| t.tok == Tok::Sym(','));
        if !matches!(values.get(position), Some([t]) if t.tok == Tok::Param(1)) {
            return Err("a VALUES row does not put $1 in the tenant_id position".to_owned());
        }
    }
    if let Some(on) = find_top(tokens, rows_end, &["on"]) {
        let do_at =
            find_top(tokens, on, &["do"]).ok_or_else(|| "ON CONFLICT without DO".to_owned())?;
        if tokens.get(do_at + 1).is_some_and(|t| is_word(t, "update")) {
            let target = &tokens[on..do_at];
            let target_has_tenant = target
                .iter()
                .any(|t| t.depth == 1 && is_word(t, "tenant_id"));
            if !target_has_tenant {
                return Err(
                    "ON CONFLICT ... DO UPDATE needs a conflict target listing tenant_id"
                        .to_owned(),
                );
            }
            let set = find_top(tokens, do_at, &["set"])
                .ok_or_else(|| "DO UPDATE without SET".to_owned())?;
            let set_end =
                find_top(tokens, set + 1, &["where", "returning"]).unwrap_or(tokens.len());
            check_set_list(&tokens[set + 1..set_end])?;
        }
    }
    Ok(())
}

/// Checks `sql` for a scoped handle that will bind the tenant as `$1` followed by `binds` values.
pub(crate) fn check_scoped(sql: &str, binds: usize) -> Result<(), String> {
    let mut tokens = lex(sql)?;
    while tokens.last().is_some_and(|t| t.tok == Tok::Sym(';')) {
        tokens.pop();
    }
    if tokens.iter().any(|t| t.tok == Tok::Sym(';')) {
        return Err("more than one statement".to_owned());
    }
    let max_param = tokens
        .iter()
        .filter_map(|t| {
            if let Tok::Param(n) = t.tok {
                Some(n)
            } else {
                None
            }
        })
        .max();
    let expected = u32::try_from(binds + 1).map_err(|_| "too many binds".to_owned())?;
    if max_param != Some(expected) {
        return Err(format!(
            "placeholders go up to ${} but {binds} bind value(s) were given; the tenant is $1, \
             bind values are $2..=${expected}",
            max_param.unwrap_or(0)
        ));
    }
    let Some(first) = tokens.first() else {
        return Err("empty SQL".to_owned());
    };
    match &first.tok {
        Tok::Word(w) if w == "select" => {
            check_no_set_operations(&tokens)?;
            check_where(&tokens, 1)
        }
        Tok::Word(w) if w == "delete" => check_where(&tokens, 1),
        Tok::Word(w) if w == "update" => check_update(&tokens),
        Tok::Word(w) if w == "insert" => check_insert(&tokens),
        _ => Err("only one SELECT, INSERT, UPDATE or DELETE statement is accepted".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_scoped;

    #[test]
    fn accepted() {
        for (sql, binds) in [
            ("SELECT * FROM items WHERE tenant_id = $1", 0),
            (
                "select id from items i where i.tenant_id=$1 and id = $2 order by id limit 10",
                1,
            ),
            (
                "SELECT * FROM items WHERE $1 = tenant_id AND (a = $2 OR b = $3);",
                2,
            ),
            (
                "SELECT count(*) AS n FROM items WHERE id IN (SELECT id FROM x WHERE y = 1 OR z = 2) AND tenant_id = $1",
                0,
            ),
            (
                "SELECT * FROM items WHERE tenant_id = $1 AND note = 'a OR b; c'",
                0,
            ),
            (
                "SELECT * FROM items WHERE created BETWEEN $2 AND $3 AND tenant_id = $1",
                2,
            ),
            (
                "UPDATE items SET name = $2, qty = qty + 1 WHERE tenant_id = $1 AND id = $3 RETURNING id",
                2,
            ),
            ("DELETE FROM items WHERE tenant_id = $1 AND id = $2", 1),
            (
                "INSERT INTO items (tenant_id, id, name) VALUES ($1, $2, $3)",
                2,
            ),
            (
                "INSERT INTO items (id, tenant_id) VALUES ($2, $1), ($3, $1) RETURNING id",
                2,
            ),
            (
                "INSERT INTO items (tenant_id, id, name) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name",
                2,
            ),
            (
                "INSERT INTO items (tenant_id, id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                1,
            ),
            (
                "SELECT \"tenant_id\" FROM items WHERE \"tenant_id\" = $1 -- trailing comment",
                0,
            ),
        ] {
            assert_eq!(check_scoped(sql, binds), Ok(()), "{sql}");
        }
    }

    #[test]
    fn refused() {
        for (sql, binds) in [
            ("SELECT * FROM items", 0),
            ("SELECT * FROM items WHERE id = $1", 0),
            ("SELECT * FROM items WHERE tenant_id = $1 OR 1 = 1", 0),
            ("SELECT * FROM items WHERE tenant_id = $2", 1),
            ("SELECT * FROM items WHERE tenant_id <> $1", 0),
            (
                "SELECT * FROM items WHERE tenant_id = $1 UNION SELECT * FROM items",
                0,
            ),
            (
                "SELECT * FROM items WHERE tenant_id = $1; DELETE FROM items",
                0,
            ),
            ("SELECT * FROM items WHERE (tenant_id = $1 OR true)", 0),
            ("SELECT * FROM items WHERE tenant_id = $1 AND id = $2", 0),
            ("SELECT * FROM items WHERE tenant_id = $1", 1),
            ("SELECT * FROM items -- WHERE tenant_id = $1", 0),
            ("SELECT * FROM items WHERE note = 'tenant_id = $1'", 0),
            (
                "WITH x AS (SELECT 1) SELECT * FROM items WHERE tenant_id = $1",
                0,
            ),
            ("UPDATE items SET name = $2", 1),
            ("UPDATE items SET tenant_id = $2 WHERE tenant_id = $1", 1),
            ("DELETE FROM items", 0),
            ("DELETE FROM items WHERE id = $1", 0),
            ("INSERT INTO items (id, name) VALUES ($1, $2)", 1),
            ("INSERT INTO items (tenant_id, id) VALUES ($2, $1)", 1),
            (
                "INSERT INTO items (tenant_id, id) VALUES ($1, $2), ($3, $2)",
                2,
            ),
            ("INSERT INTO items VALUES ($1, $2)", 1),
            (
                "INSERT INTO items (tenant_id, id) SELECT $1, id FROM other",
                0,
            ),
            (
                "INSERT OR REPLACE INTO items (tenant_id, id) VALUES ($1, $2)",
                1,
            ),
            (
                "INSERT INTO items (tenant_id, id) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET id = excluded.id",
                1,
            ),
            (
                "INSERT INTO items (tenant_id, id) VALUES ($1, $2) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET tenant_id = $3",
                2,
            ),
            ("REPLACE INTO items (tenant_id, id) VALUES ($1, $2)", 1),
            ("", 0),
        ] {
            assert!(check_scoped(sql, binds).is_err(), "accepted: {sql}");
        }
    }
}

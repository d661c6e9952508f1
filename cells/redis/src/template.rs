//! Tag templates: `"user:{id}"`, `"org:{user.org_id}"`. Each `{...}` names an argument of
//! the memoized function (optionally followed by `.field`s) and is rendered with `Display`.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// An argument and the fields read from it: `user.org_id` → `["user", "org_id"]`.
    Arg(Vec<String>),
}

/// Parses a template and checks that every placeholder names one of `args`.
pub fn parse(text: &str, args: &[String]) -> Result<Vec<Part>, String> {
    if text.is_empty() {
        return Err("the tag is empty".into());
    }
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut inner = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err(format!("`{{` in tag `{text}` is never closed"));
                }
                let path: Vec<String> = inner
                    .trim()
                    .split('.')
                    .map(|s| s.trim().to_string())
                    .collect();
                if path.iter().any(|p| !is_ident(p)) {
                    return Err(format!(
                        "`{{{inner}}}` in tag `{text}` is not an argument name (or `arg.field`)"
                    ));
                }
                if !args.contains(&path[0]) {
                    let known = if args.is_empty() {
                        "the function has no arguments".to_string()
                    } else {
                        format!(
                            "its arguments are {}",
                            args.iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    return Err(format!(
                        "tag `{text}` names `{}`, which is not an argument of this function ({known})",
                        path[0]
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Arg(path));
            }
            '}' => {
                return Err(format!(
                    "`}}` in tag `{text}` has no matching `{{` (write `}}}}` for a brace)"
                ));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(parts)
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The help shown with every template error.
pub const HELP: &str = "write a tag as text with arguments in braces: `tags = [\"user:{id}\"]`";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_text_and_arguments() {
        let p = parse("user:{id}", &args(&["id"])).unwrap();
        assert_eq!(
            p,
            vec![Part::Text("user:".into()), Part::Arg(vec!["id".into()])]
        );
        let p = parse("{u.org_id}-x", &args(&["u"])).unwrap();
        assert_eq!(
            p,
            vec![
                Part::Arg(vec!["u".into(), "org_id".into()]),
                Part::Text("-x".into())
            ]
        );
        assert_eq!(parse("all", &[]).unwrap(), vec![Part::Text("all".into())]);
        assert_eq!(
            parse("a{{b}}", &[]).unwrap(),
            vec![Part::Text("a{b}".into())]
        );
    }

    #[test]
    fn unknown_arguments_and_bad_braces_are_errors() {
        let e = parse("user:{user_id}", &args(&["id"])).unwrap_err();
        assert!(e.contains("`user_id`, which is not an argument"), "{e}");
        assert!(e.contains("`id`"), "{e}");
        assert!(
            parse("user:{id", &args(&["id"]))
                .unwrap_err()
                .contains("never closed")
        );
        assert!(
            parse("user:id}", &args(&["id"]))
                .unwrap_err()
                .contains("no matching")
        );
        assert!(
            parse("{1x}", &args(&["id"]))
                .unwrap_err()
                .contains("not an argument name")
        );
        assert!(parse("", &[]).is_err());
        assert!(parse("x{a}", &[]).unwrap_err().contains("has no arguments"));
    }
}

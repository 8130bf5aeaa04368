//! MQTT topic templates: `factory/{uscc}/line/{line}/telemetry` is subscribed to as
//! `factory/+/line/+/telemetry`, and a received topic yields `uscc` and `line`.
//! Tenant and dataset templates (`{uscc}`, `telemetry-{line}`) are filled from those values.

/// One level of a topic template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Level {
    Literal(String),
    Placeholder(String),
}

/// A compiled topic template.
#[derive(Clone, Debug)]
pub(crate) struct TopicPattern {
    levels: Vec<Level>,
    filter: String,
}

impl TopicPattern {
    /// Compiles a template (syntax as checked by the configuration).
    pub fn parse(template: &str) -> Result<Self, String> {
        brain_config::topic_template_placeholders(template)?;
        let levels: Vec<Level> = template
            .split('/')
            .map(|level| match level.strip_prefix('{').and_then(|l| l.strip_suffix('}')) {
                Some(name) => Level::Placeholder(name.to_owned()),
                None => Level::Literal(level.to_owned()),
            })
            .collect();
        let filter = levels
            .iter()
            .map(|level| match level {
                Level::Literal(text) => text.as_str(),
                Level::Placeholder(_) => "+",
            })
            .collect::<Vec<_>>()
            .join("/");
        Ok(Self { levels, filter })
    }

    /// The subscription filter: placeholders become single-level `+` wildcards.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The placeholder values of a received topic, in template order, or `None` when the
    /// topic does not match (another level count, another literal, or a level holding a
    /// wildcard character, which no published topic may contain). A value never contains
    /// `/`: each placeholder matches exactly one level.
    pub fn captures(&self, topic: &str) -> Option<Vec<(String, String)>> {
        if topic.contains(['+', '#', '\0']) {
            return None;
        }
        let mut levels = topic.split('/');
        let mut captured = Vec::new();
        for expected in &self.levels {
            let level = levels.next()?;
            match expected {
                Level::Literal(text) if text == level => {}
                Level::Literal(_) => return None,
                Level::Placeholder(name) => captured.push((name.clone(), level.to_owned())),
            }
        }
        if levels.next().is_some() {
            return None;
        }
        Some(captured)
    }
}

/// A tenant or dataset template: literal text and `{placeholder}`s of the topic.
#[derive(Clone, Debug)]
pub(crate) struct NameTemplate {
    parts: Vec<Level>,
}

impl NameTemplate {
    /// Compiles a template whose placeholders must all be among `known`.
    pub fn parse(template: &str, known: &[&str]) -> Result<Self, String> {
        let used = brain_config::name_template_placeholders(template)?;
        if let Some(unknown) = used.iter().find(|name| !known.contains(name)) {
            return Err(format!("`{{{unknown}}}` is not a placeholder of the topic"));
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.strip_prefix('{').and_then(|after| after.split_once('}')) {
                Some((name, after)) => {
                    parts.push(Level::Placeholder(name.to_owned()));
                    rest = after;
                }
                None => {
                    let end = rest[1..].find('{').map_or(rest.len(), |i| i + 1);
                    parts.push(Level::Literal(rest[..end].to_owned()));
                    rest = &rest[end..];
                }
            }
        }
        Ok(Self { parts })
    }

    /// The name with placeholders replaced by the captured values (a missing value is empty;
    /// the result is checked as a name by ingestion).
    pub fn render(&self, captures: &[(String, String)]) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Level::Literal(text) => text.as_str(),
                Level::Placeholder(name) => captures.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern() -> TopicPattern {
        TopicPattern::parse("factory/{uscc}/line/{line}/telemetry").unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn placeholders_become_single_level_wildcards() {
        assert_eq!(pattern().filter(), "factory/+/line/+/telemetry");
        assert_eq!(TopicPattern::parse("plain/topic").unwrap().filter(), "plain/topic");
        assert_eq!(TopicPattern::parse("{site}").unwrap().filter(), "+");
    }

    #[test]
    fn captures_placeholder_values() {
        assert_eq!(
            pattern().captures("factory/91330100MA27XKQ717/line/L1/telemetry"),
            Some(pairs(&[("uscc", "91330100MA27XKQ717"), ("line", "L1")]))
        );
        // `+` matches an empty level; the tenant check then refuses an empty name.
        assert_eq!(pattern().captures("factory//line/L1/telemetry"), Some(pairs(&[("uscc", ""), ("line", "L1")])));
    }

    #[test]
    fn literal_levels_and_level_count_must_match() {
        let p = pattern();
        assert_eq!(p.captures("factory/A/line/L1/status"), None);
        assert_eq!(p.captures("plant/A/line/L1/telemetry"), None);
        assert_eq!(p.captures("factory/A/line/L1/telemetry/extra"), None);
        assert_eq!(p.captures("factory/A/line/L1"), None);
        assert_eq!(p.captures("factory/A/line/L1/telemetry/"), None);
        assert_eq!(p.captures("Factory/A/line/L1/telemetry"), None, "MQTT topics are case-sensitive");
    }

    #[test]
    fn a_placeholder_value_never_spans_levels_or_holds_wildcards() {
        let p = pattern();
        // A '/' in a value would shift the levels: no match rather than a value with '/'.
        assert_eq!(p.captures("factory/A/B/line/L1/telemetry"), None);
        assert_eq!(p.captures("factory/+/line/L1/telemetry"), None);
        assert_eq!(p.captures("factory/#/line/L1/telemetry"), None);
        assert_eq!(p.captures("factory/A+/line/L1/telemetry"), None);
        assert!(TopicPattern::parse("factory/+/line").is_err());
        assert!(TopicPattern::parse("factory/#").is_err());
        assert!(TopicPattern::parse("factory/{a}b/line").is_err());
    }

    #[test]
    fn name_templates_fill_from_captures() {
        let captures = pairs(&[("uscc", "91330100MA27XKQ717"), ("line", "L1")]);
        let known = ["uscc", "line"];
        assert_eq!(NameTemplate::parse("{uscc}", &known).unwrap().render(&captures), "91330100MA27XKQ717");
        assert_eq!(NameTemplate::parse("line-telemetry", &known).unwrap().render(&captures), "line-telemetry");
        assert_eq!(NameTemplate::parse("telemetry-{line}", &known).unwrap().render(&captures), "telemetry-L1");
        assert_eq!(NameTemplate::parse("{uscc}.{line}-x", &known).unwrap().render(&captures), "91330100MA27XKQ717.L1-x");
        assert!(NameTemplate::parse("{region}", &known).unwrap_err().contains("region"));
        assert!(NameTemplate::parse("a b", &known).is_err());
    }
}

//! Plain-text tables and key/value blocks, and value formatting shared by the commands.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The widest a table cell may be before it is cut with `…`.
pub const MAX_CELL: usize = 48;

/// A table with a header row, rendered with columns padded to their widest cell.
///
/// ```text
/// ID        TITLE     STATUS
/// --------  --------  ------
/// 7f1c2a    Research  active
/// ```
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns that are never cut (ids, which people copy).
    keep: Vec<bool>,
}

impl Table {
    /// A table with these column headers.
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let keep = vec![false; headers.len()];
        Table { headers, rows: Vec::new(), keep }
    }

    /// Never cut the cells of column `index` (for ids).
    pub fn keep_whole(mut self, index: usize) -> Self {
        if let Some(k) = self.keep.get_mut(index) {
            *k = true;
        }
        self
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut cells: Vec<String> = cells.into_iter().map(|c| one_line(&c.into())).collect();
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The rendered table, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter().enumerate().map(|(i, c)| if self.keep[i] { c.clone() } else { cut(c, MAX_CELL) }).collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &cells {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(c));
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let last = cells.len().saturating_sub(1);
            for (i, c) in cells.iter().enumerate() {
                out.push_str(c);
                if i < last {
                    out.push_str(&" ".repeat(widths[i] - width(c) + 2));
                }
            }
            let kept = out.trim_end_matches(' ').len();
            out.truncate(kept);
            out.push('\n');
        };
        line(&mut out, &self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule);
        for row in &cells {
            line(&mut out, row);
        }
        out
    }
}

/// Aligned `key: value` lines.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pairs: Vec<(String, String)>,
}

impl Fields {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    pub fn add(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.pairs.push((key.to_owned(), value.into()));
        self
    }

    /// Adds a field unless the value is empty.
    pub fn add_nonempty(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        if !value.is_empty() {
            self.pairs.push((key.to_owned(), value));
        }
        self
    }

    /// The rendered block; values spanning several lines are indented under their key.
    pub fn render(&self) -> String {
        let w = self.pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 1;
        let mut out = String::new();
        for (k, v) in &self.pairs {
            let mut lines = v.lines();
            let first = lines.next().unwrap_or("");
            out.push_str(&format!("{:<w$}  {first}\n", format!("{k}:")));
            for more in lines {
                out.push_str(&format!("{:<w$}  {more}\n", ""));
            }
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Replaces line breaks and tabs so that a cell stays on one line.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect()
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn cut(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A timestamp as `2026-11-24 14:05:09Z`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A JSON object on one line (`{}` when empty).
pub fn compact(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

/// A JSON object indented, for key/value blocks (`{}` when empty).
pub fn pretty(map: &Map<String, Value>) -> String {
    if map.is_empty() { "{}".to_owned() } else { serde_json::to_string_pretty(map).unwrap_or_default() }
}

/// An amount without a pointless fraction: `0.05`, `1500`.
pub fn amount(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.0}") } else { format!("{}", (x * 1e6).round() / 1e6) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let mut t = Table::new(["ID", "TITLE"]);
        t.row(["1", "short"]);
        t.row(["22", "a longer title"]);
        assert_eq!(t.render(), "ID  TITLE\n--  --------------\n1   short\n22  a longer title\n");
    }

    #[test]
    fn long_cells_are_cut_unless_kept() {
        let long = "x".repeat(MAX_CELL + 10);
        let mut t = Table::new(["ID", "TEXT"]).keep_whole(0);
        t.row([long.clone(), long.clone()]);
        let out = t.render();
        let row = out.lines().nth(2).unwrap();
        assert!(row.starts_with(&long));
        assert!(row.ends_with('…'));
        assert_eq!(row.chars().count(), long.len() + 2 + MAX_CELL);
    }

    #[test]
    fn rows_are_normalized() {
        let mut t = Table::new(["A", "B"]);
        t.row(["multi\nline"]);
        assert_eq!(t.render().lines().nth(2).unwrap(), "multi line");
    }

    #[test]
    fn cells_count_characters_not_bytes() {
        let mut t = Table::new(["NAME", "N"]);
        t.row(["café", "1"]);
        assert_eq!(t.render().lines().nth(2).unwrap(), "café  1");
    }

    #[test]
    fn fields_align_and_indent() {
        let mut f = Fields::new();
        f.add("id", "7f").add("state", "{\n  \"a\": 1\n}").add_nonempty("skipped", "");
        assert_eq!(f.render(), "id:     7f\nstate:  {\n          \"a\": 1\n        }\n");
    }

    #[test]
    fn amounts() {
        assert_eq!(amount(1500.0), "1500");
        assert_eq!(amount(0.05), "0.05");
        assert_eq!(amount(0.1 + 0.2), "0.3");
    }
}

//! The manifest: every Cell attribute of the workspace, merged from the recorded fragments,
//! as a map from Cell name to that Cell's [`Section`].
//!
//! `manifest.json` is the top-level object of every section's keys. The first Cell of the
//! registry (Postgres, whose `postgres` key every manifest has had) comes first; the others
//! follow by name, so a new Cell's place in the file does not depend on its registry line.

use std::path::Path;

use serde::ser::{SerializeMap, Serializer};

use crate::cell::{Cell, Section};
use crate::error::CellError;

/// One recorded item, as the macro wrote it.
#[derive(Debug)]
pub struct Fragment {
    pub cell: String,
    pub kind: String,
    pub value: serde_json::Value,
}

impl Fragment {
    /// Fragment files are named `<cell>.<kind>.<name>.json` and hold the item's declaration.
    pub fn parse(
        path: &Path,
        bytes: &[u8],
    ) -> Result<Fragment, Box<dyn std::error::Error + Send + Sync>> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("fragment name is not UTF-8")?;
        let mut parts = name.splitn(3, '.');
        let (Some(cell), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(format!("unexpected fragment name {name}").into());
        };
        Ok(Fragment {
            cell: cell.to_string(),
            kind: kind.to_string(),
            value: serde_json::from_slice(bytes)?,
        })
    }
}

#[derive(Debug)]
pub struct Manifest {
    /// In the order of the registry it was made from.
    sections: Vec<(&'static str, Box<dyn Section>)>,
}

impl Manifest {
    /// An empty manifest of these Cells.
    pub fn new<'a>(cells: impl IntoIterator<Item = &'a dyn Cell>) -> Manifest {
        Manifest {
            sections: cells
                .into_iter()
                .map(|c| (c.name(), c.new_section()))
                .collect(),
        }
    }

    /// Adds one recorded item to its Cell's section. A fragment of a Cell this cargo-cell
    /// does not know comes from a newer macro crate, and is left out.
    pub fn add(&mut self, fragment: Fragment, origin: &str) -> Result<(), CellError> {
        match self.sections.iter_mut().find(|(n, _)| *n == fragment.cell) {
            Some((_, section)) => section.add(&fragment.kind, fragment.value, origin),
            None => Ok(()),
        }
    }

    /// The section of `cell`, as its own type.
    pub fn section<S: Section>(&self, cell: &str) -> Option<&S> {
        self.sections
            .iter()
            .find(|(n, _)| *n == cell)
            .and_then(|(_, s)| s.as_any().downcast_ref::<S>())
    }

    /// Whether the code declares anything of `cell`.
    pub fn declares(&self, cell: &str) -> bool {
        self.sections
            .iter()
            .any(|(n, s)| *n == cell && !s.is_empty())
    }

    /// Whether the code declares nothing of any Cell.
    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|(_, s)| s.is_empty())
    }

    /// `2 Postgres tables, 1 guarded function`, or `no Cell attributes`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .sections
            .iter()
            .filter_map(|(_, s)| s.summary())
            .collect();
        if parts.is_empty() {
            "no Cell attributes".to_string()
        } else {
            parts.join(", ")
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&Ordered(self)).expect("manifest serialises");
        bytes.push(b'\n');
        bytes
    }

    /// A manifest written by [`Manifest::to_bytes`] (`--manifest FILE`), for these Cells.
    pub fn from_slice<'a>(
        bytes: &[u8],
        cells: impl IntoIterator<Item = &'a dyn Cell>,
    ) -> Result<Manifest, serde_json::Error> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)?;
        let sections = cells
            .into_iter()
            .map(|c| Ok((c.name(), c.read_section(&object)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        Ok(Manifest { sections })
    }
}

/// The sections in file order (see the module doc).
struct Ordered<'a>(&'a Manifest);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sections: Vec<&(&'static str, Box<dyn Section>)> = self.0.sections.iter().collect();
        if let Some(rest) = sections.get_mut(1..) {
            rest.sort_by_key(|(name, _)| *name);
        }
        let mut map = serializer.serialize_map(None)?;
        for (_, section) in sections {
            for (key, value) in section.entries() {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_names_carry_cell_and_kind() {
        let f = Fragment::parse(Path::new("/x/postgres.table.users.json"), b"{}").unwrap();
        assert_eq!((f.cell.as_str(), f.kind.as_str()), ("postgres", "table"));
    }
}

//! Where the agent stream resumes: the last event whose work is finished, kept in order.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;

/// The events received from the agent stream, in order, and which are done; the cursor is the
/// last event of the longest finished prefix, so a restart never skips unfinished work.
#[derive(Debug, Default)]
pub(crate) struct Cursor {
    /// Received and not yet committed: (event id, done, durable). A durable id is one the
    /// server sent (`id:`) and can resume after; the others are kept in memory only.
    pending: VecDeque<(String, bool, bool)>,
    /// The committed position.
    committed: Option<String>,
    /// Where the committed position is kept, if anywhere.
    file: Option<PathBuf>,
}

impl Cursor {
    /// A cursor kept in `file` (read now when it exists).
    pub(crate) fn open(file: Option<PathBuf>) -> io::Result<Cursor> {
        let committed = match &file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        Ok(Cursor { pending: VecDeque::new(), committed, file })
    }

    /// The position to resume after.
    pub(crate) fn position(&self) -> Option<&str> {
        self.committed.as_deref()
    }

    /// An event was received (`durable`: its id is the server's).
    pub(crate) fn received(&mut self, id: String, durable: bool) {
        self.pending.push_back((id, false, durable));
    }

    /// An event's work is finished (handled, skipped, or given up); commits what it can.
    pub(crate) fn done(&mut self, id: &str) -> io::Result<()> {
        if let Some(entry) = self.pending.iter_mut().find(|(i, done, _)| i == id && !done) {
            entry.1 = true;
        }
        let mut advanced = None;
        while self.pending.front().is_some_and(|(_, done, _)| *done) {
            if let Some((i, _, true)) = self.pending.pop_front() {
                advanced = Some(i);
            }
        }
        if let Some(id) = advanced {
            if let Some(path) = &self.file {
                // Write then rename: a crash leaves the old position or the new one, never half.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, &id)?;
                std::fs::rename(&tmp, path)?;
            }
            self.committed = Some(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_only_the_finished_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cursor");
        let mut c = Cursor::open(Some(file.clone())).unwrap();
        assert_eq!(c.position(), None);
        for id in ["1", "2", "3"] {
            c.received(id.to_owned(), true);
        }
        c.done("2").unwrap();
        assert_eq!(c.position(), None, "1 is still running");
        c.done("1").unwrap();
        assert_eq!(c.position(), Some("2"));
        c.done("3").unwrap();
        assert_eq!(c.position(), Some("3"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "3");
        assert_eq!(Cursor::open(Some(file.clone())).unwrap().position(), Some("3"));
        // Keys of events without a server id pass, but are never written.
        c.received("assignment:a".to_owned(), false);
        c.received("4".to_owned(), true);
        c.received("assignment:b".to_owned(), false);
        c.done("assignment:a").unwrap();
        assert_eq!(c.position(), Some("3"));
        c.done("4").unwrap();
        c.done("assignment:b").unwrap();
        assert_eq!(c.position(), Some("4"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "4");
    }
}

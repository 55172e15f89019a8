//! Standard output for the commands: a reader that went away ends the command quietly.

use std::io::Write;

use crate::errors::CliError;

/// Writes `text` to standard output and flushes it. A reader that went away (`openintent ... |
/// head`) is [`CliError::StdoutClosed`], which ends the command quietly; `print!` would panic.
pub fn emit(text: &str) -> Result<(), CliError> {
    write_to(&mut std::io::stdout().lock(), text)
}

fn write_to(out: &mut impl Write, text: &str) -> Result<(), CliError> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(CliError::StdoutClosed),
        Err(e) => Err(CliError::Other(format!("cannot write to standard output: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_reader_is_a_quiet_stop() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(matches!(write_to(&mut Closed, "x"), Err(CliError::StdoutClosed)));
        let mut full: &mut [u8] = &mut [0u8; 1];
        assert!(matches!(write_to(&mut full, "xy"), Err(CliError::Other(m)) if m.contains("standard output")));
        let mut ok = Vec::new();
        write_to(&mut ok, "xy").unwrap();
        assert_eq!(ok, b"xy");
    }
}

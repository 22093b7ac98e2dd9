//! What an instrument tells the updater over Channel Access: the instrument list, and the
//! server version each instrument runs.

use crate::client::version::Version;
use crate::error::UpdateError;
use crate::instrument::ca::{self, CaConfig, CaError};
use crate::instrument::list::{INSTLIST_PV, Instrument, decode_instlist};

/// One instrument and what its server said.
#[derive(Debug)]
pub struct InstrumentStatus {
    pub instrument: Instrument,
    pub server_version: Result<Version, UpdateError>,
}

/// Reads and decodes CS:INSTLIST.
pub fn instrument_list(config: &CaConfig) -> Result<Vec<Instrument>, UpdateError> {
    let value = ca::read_pv(config, INSTLIST_PV).map_err(UpdateError::from)?;
    decode_instlist(&value.as_text()).map_err(|e| UpdateError::BadPv {
        pv: INSTLIST_PV.to_string(),
        detail: e.to_string(),
    })
}

/// Reads every instrument's server version in one batch.
pub fn server_versions(config: &CaConfig, instruments: Vec<Instrument>) -> Vec<InstrumentStatus> {
    let pvs: Vec<String> = instruments.iter().map(Instrument::version_pv).collect();
    let values = ca::read_pvs(config, &pvs);
    instruments
        .into_iter()
        .zip(pvs.into_iter().zip(values))
        .map(|(instrument, (pv, value))| InstrumentStatus {
            instrument,
            server_version: value
                .map_err(UpdateError::from)
                .and_then(|v| parse_version(&pv, &v.as_text())),
        })
        .collect()
}

/// Finds `query` (a name, host name or PV prefix, any case) in the instrument list.
pub fn find(config: &CaConfig, query: &str) -> Result<Instrument, UpdateError> {
    let instruments = instrument_list(config)?;
    instruments
        .iter()
        .find(|i| i.matches(query))
        .cloned()
        .ok_or_else(|| UpdateError::UnknownInstrument {
            name: query.to_string(),
            known: instruments
                .iter()
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads the server version an instrument runs.
pub fn server_version(config: &CaConfig, instrument: &Instrument) -> Result<Version, UpdateError> {
    let pv = instrument.version_pv();
    let value = ca::read_pv(config, &pv).map_err(UpdateError::from)?;
    parse_version(&pv, &value.as_text())
}

fn parse_version(pv: &str, text: &str) -> Result<Version, UpdateError> {
    text.parse().map_err(
        |e: crate::client::version::ParseVersionError| UpdateError::BadPv {
            pv: pv.to_string(),
            detail: e.to_string(),
        },
    )
}

impl From<CaError> for UpdateError {
    fn from(e: CaError) -> Self {
        UpdateError::InstrumentUnreachable(e)
    }
}

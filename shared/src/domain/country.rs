use crate::error::{Error, Result};

/// The officially assigned ISO 3166-1 alpha-2 codes (249), concatenated.
const CODES: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// A country as an ISO 3166-1 alpha-2 code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Country([u8; 2]);

impl Country {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let bad = || Error::validation("invalid_country", field, "must be an ISO 3166-1 alpha-2 code such as NL");
        let code = raw.trim().to_ascii_uppercase();
        let b = code.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_uppercase) {
            return Err(bad());
        }
        let known = CODES.as_bytes().chunks_exact(2).any(|c| c == b);
        if known { Ok(Country([b[0], b[1]])) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII upper-case letters, checked by `parse`.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl TryFrom<String> for Country {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s, "country")
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_codes_only() {
        assert_eq!(CODES.len(), 249 * 2);
        assert_eq!(Country::parse(" nl ", "c").unwrap().as_str(), "NL");
        assert_eq!(Country::parse("DE", "c").unwrap().as_str(), "DE");
        for bad in ["XX", "UK", "N", "NLD", "1A", "", "ÑL"] {
            assert_eq!(Country::parse(bad, "country").unwrap_err().code(), "invalid_country", "{bad}");
        }
    }
}

//! A municipality's key and self-signed certificate in AgID's profile for public-sector
//! service providers (Avviso SPID n.29 v3; `italia/spid-compliant-certificates`): RSA, the
//! subject with `organizationIdentifier` `PA:IT-<IPA code>` and the entity ID as `uri`,
//! keyUsage critical with digitalSignature and nonRepudiation only, basicConstraints not
//! critical, and the policies `agIDcert` (1.3.76.16.6) and `cert_SP_Pub` (1.3.76.16.4.2.1).

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize, SerialNumber,
};

use crate::{Error, Result};

/// Who the certificate is for.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    /// "Comune di …": common and organization name.
    pub organization: &'a str,
    pub locality: &'a str,
    pub ipa_code: &'a str,
    /// The service provider's entity ID.
    pub entity_id: &'a str,
}

/// A new key and its certificate (PKCS#8 and X.509, DER), valid from `now` for `days` days.
/// `bits`: 2048, 3072 (AgID's tools' default) or 4096.
pub fn generate(
    subject: &Subject<'_>,
    bits: u16,
    now: jiff::Timestamp,
    days: i64,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let size = match bits {
        2048 => RsaKeySize::_2048,
        3072 => RsaKeySize::_3072,
        4096 => RsaKeySize::_4096,
        _ => {
            return Err(Error::Key(
                "the key must have 2048, 3072 or 4096 bits".into(),
            ));
        }
    };
    let key_error = |e: rcgen::Error| Error::Key(e.to_string());
    let pair = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, size).map_err(key_error)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, subject.organization);
    dn.push(DnType::OrganizationName, subject.organization);
    dn.push(DnType::CountryName, "IT");
    dn.push(DnType::LocalityName, subject.locality);
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 97]),
        DnValue::Utf8String(format!("PA:IT-{}", subject.ipa_code)),
    );
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 83]),
        DnValue::Utf8String(subject.entity_id.to_string()),
    );
    params.distinguished_name = dn;
    let at = |t: jiff::Timestamp| {
        time::OffsetDateTime::from_unix_timestamp(t.as_second())
            .map_err(|e| Error::Key(e.to_string()))
    };
    params.not_before = at(now)?;
    params.not_after = at(now + jiff::SignedDuration::from_hours(24 * days))?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| Error::Key("no randomness".into()))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    // basicConstraints CA:FALSE, not critical (rcgen would mark it critical).
    params.custom_extensions = vec![
        CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]),
        CustomExtension::from_oid_content(&[2, 5, 29, 32], policies()),
    ];
    let cert = params.self_signed(&pair).map_err(key_error)?;
    Ok((pair.serialize_der(), cert.der().to_vec()))
}

/// DER: a tag, its length, its content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(u8::try_from(n).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, arcs),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut chunk = vec![u8::try_from(arc & 0x7f).unwrap_or(0)];
        let mut v = arc >> 7;
        while v > 0 {
            chunk.push(0x80 | u8::try_from(v & 0x7f).unwrap_or(0));
            v >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    der(0x06, &body)
}

/// certificatePolicies: each policy with a user notice whose explicit text names it.
fn policies() -> Vec<u8> {
    let policy = |arcs: &[u64], text: &str| {
        let notice = der(0x30, &der(0x0c, text.as_bytes()));
        let qualifier = der(0x30, &[oid(&[1, 3, 6, 1, 5, 5, 7, 2, 2]), notice].concat());
        der(0x30, &[oid(arcs), der(0x30, &qualifier)].concat())
    };
    der(
        0x30,
        &[
            policy(&[1, 3, 76, 16, 6], "agIDcert"),
            policy(&[1, 3, 76, 16, 4, 2, 1], "cert_SP_Pub"),
        ]
        .concat(),
    )
}

//! The service provider's side end to end with the stand-in provider: metadata, the request
//! in both bindings, and the answer's checks, each wrong answer spid-sp-test sends refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use refettorio_saml::authn::AuthnRequest;
use refettorio_saml::dsig::{PublicKey, RSA_SHA256, SigningKey, verify_enveloped};
use refettorio_saml::idp::{IdentityProvider, parse_providers};
use refettorio_saml::response::{Authenticated, Expected, Refusal, validate};
use refettorio_saml::sandbox::{Answer, metadata, response};
use refettorio_saml::sp::ServiceProvider;
use refettorio_saml::spid::{Level, Profile, error_message_it};
use refettorio_saml::xml::parse;

fn key() -> (SigningKey, PublicKey) {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    (
        SigningKey::new(&pair.serialize_der(), cert.der().to_vec()).unwrap(),
        PublicKey::from_certificate(cert.der()).unwrap(),
    )
}

const BASE: &str = "http://127.0.0.1:8080/t/demo/spid";
const IDP: &str = "https://idp.prova.example";

fn sp(profile: Profile) -> ServiceProvider {
    ServiceProvider {
        profile,
        entity_id: format!("{BASE}/metadata"),
        acs_url: format!("{BASE}/acs"),
        slo_url: format!("{BASE}/slo"),
        organization: "Comune di Prova & Dintorni".into(),
        organization_url: "https://www.comune.prova.it".into(),
        ipa_code: "c_x000".into(),
        municipality_code: "X000".into(),
        contact_email: "protocollo@comune.prova.it".into(),
        contact_phone: Some("+390612345678".into()),
        service_name: "Servizi scolastici".into(),
    }
}

#[test]
fn the_metadata_is_signed_and_says_what_the_profiles_require() {
    let (k, public) = key();
    let xml = sp(Profile::Spid).metadata("_m1", &k).unwrap();
    let doc = parse(&xml).unwrap();
    verify_enveloped(&doc, doc.root_element(), std::slice::from_ref(&public)).unwrap();
    for needed in [
        "entityID=\"http://127.0.0.1:8080/t/demo/spid/metadata\"",
        "AuthnRequestsSigned=\"true\"",
        "index=\"0\" isDefault=\"true\"",
        "<spid:IPACode>c_x000</spid:IPACode><spid:Public/>",
        "<md:RequestedAttribute Name=\"mobilePhone\"/>",
        "Comune di Prova &amp; Dintorni",
        "contactType=\"other\"",
    ] {
        assert!(xml.contains(needed), "{needed} missing in {xml}");
    }
    // The signature comes first, as CIE's schema requires.
    let first = doc.root_element().first_element_child().unwrap();
    assert_eq!(first.tag_name().name(), "Signature");

    let cie = sp(Profile::Cie).metadata("_m2", &k).unwrap();
    assert!(cie.contains("<cie:Municipality>X000</cie:Municipality>"));
    assert!(cie.contains("contactType=\"administrative\""));
    assert!(!cie.contains("mobilePhone") && cie.contains("dateOfBirth"));

    let mut bad = sp(Profile::Spid);
    bad.contact_phone = Some("06 1234".into());
    assert!(bad.metadata("_m3", &k).is_err());
    let mut bad = sp(Profile::Cie);
    bad.municipality_code = String::new();
    assert!(bad.metadata("_m4", &k).is_err());
}

#[test]
fn the_redirect_request_is_deflated_and_its_query_string_signed() {
    let (k, public) = key();
    let now: Timestamp = "2026-12-07T08:00:00.123456Z".parse().unwrap();
    let r = AuthnRequest {
        id: "_q1",
        issue_instant: now,
        destination: "https://idp.prova.example/sso?x=1",
        level: Level::L2,
    };
    let url = sp(Profile::Spid).redirect(&r, "tok123", &k).unwrap();
    let query = url
        .strip_prefix("https://idp.prova.example/sso?x=1&")
        .unwrap();
    let (signed, signature) = query.rsplit_once("&Signature=").unwrap();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(a, b)| (a.into_owned(), b.into_owned()))
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["SAMLRequest", "RelayState", "SigAlg", "Signature"]);
    assert_eq!(pairs[2].1, RSA_SHA256);
    let signature: String = form_urlencoded::parse(format!("s={signature}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let signature = STANDARD.decode(signature).unwrap();
    assert!(public.verifies(RSA_SHA256, signed.as_bytes(), &signature));
    assert!(!public.verifies(RSA_SHA256, b"SAMLRequest=other", &signature));

    let deflated = STANDARD.decode(&pairs[0].1).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::DeflateDecoder::new(deflated.as_slice()),
        &mut xml,
    )
    .unwrap();
    for needed in [
        "ID=\"_q1\"",
        "IssueInstant=\"2026-12-07T08:00:00.123Z\"",
        "ForceAuthn=\"true\"",
        "AssertionConsumerServiceIndex=\"0\"",
        "NameQualifier=\"http://127.0.0.1:8080/t/demo/spid/metadata\"",
        "Comparison=\"minimum\"",
        "https://www.spid.gov.it/SpidL2",
    ] {
        assert!(xml.contains(needed), "{needed} missing in {xml}");
    }
    assert!(!xml.contains("AllowCreate") && !xml.contains("IsPassive"));

    // The stand-in provider reads it back, the signature checked over the bytes sent.
    let received =
        refettorio_saml::authn::read_redirect(query, std::slice::from_ref(&public)).unwrap();
    assert_eq!(received.id, "_q1");
    assert_eq!(received.level, Level::L2);
    assert_eq!(received.relay_state, "tok123");
    assert_eq!(
        received.issuer,
        "http://127.0.0.1:8080/t/demo/spid/metadata"
    );
    let (_, stranger) = key();
    assert!(refettorio_saml::authn::read_redirect(query, &[stranger]).is_err());
    let tampered = query.replace("tok123", "tok124");
    assert!(
        refettorio_saml::authn::read_redirect(&tampered, std::slice::from_ref(&public)).is_err()
    );

    // The POST binding signs the request itself.
    let posted = sp(Profile::Spid).post_request(&r, &k).unwrap();
    let posted = String::from_utf8(STANDARD.decode(posted).unwrap()).unwrap();
    let doc = parse(&posted).unwrap();
    verify_enveloped(&doc, doc.root_element(), std::slice::from_ref(&public)).unwrap();
}

struct World {
    idp_key: SigningKey,
    provider: IdentityProvider,
    sp: ServiceProvider,
    request_instant: Timestamp,
    now: Timestamp,
}

fn world() -> World {
    let (idp_key, _) = key();
    let xml = metadata(
        IDP,
        "https://idp.prova.example/sso",
        "https://idp.prova.example/slo",
        &idp_key,
    );
    let provider = parse_providers(&xml).unwrap().remove(0);
    let request_instant: Timestamp = "2026-12-07T08:00:00.123Z".parse().unwrap();
    World {
        idp_key,
        provider,
        sp: sp(Profile::Spid),
        request_instant,
        now: request_instant + SignedDuration::from_secs(20),
    }
}

const MARIO: &[(&str, &str)] = &[
    ("fiscalNumber", "TINIT-RSSMRA80A01H501U"),
    ("name", "Mario"),
    ("familyName", "Rossi"),
    ("email", "mario.rossi@example.it"),
];

impl World {
    fn answer(&self, level: Level, error: Option<u16>) -> Answer<'_> {
        Answer {
            provider: IDP,
            request_id: "_q1",
            request_instant: self.request_instant,
            acs_url: &self.sp.acs_url,
            audience: &self.sp.entity_id,
            now: self.now,
            level,
            name_id: "n1",
            attributes: MARIO,
            error,
        }
    }

    fn expected(&self) -> Expected<'_> {
        Expected {
            profile: Profile::Spid,
            request_id: "_q1",
            request_instant: self.request_instant,
            provider: &self.provider,
            acs_url: &self.sp.acs_url,
            entity_id: &self.sp.entity_id,
            level: Level::L2,
            now: self.now,
        }
    }

    fn check(&self, xml: &str) -> Result<Authenticated, Refusal> {
        validate(xml, &self.expected())
    }

    fn signed(&self, tweak: impl Fn(String) -> String) -> String {
        response(&self.answer(Level::L2, None), &self.idp_key, tweak).unwrap()
    }
}

#[test]
fn a_good_answer_gives_the_person_and_what_logout_needs() {
    let w = world();
    assert_eq!(w.provider.name, "IdP di prova (simulazione)");
    let who = w.check(&w.signed(|x| x)).unwrap();
    assert_eq!(who.attributes["fiscalNumber"], "TINIT-RSSMRA80A01H501U");
    assert_eq!(who.attributes["familyName"], "Rossi");
    assert_eq!(who.level, Level::L2);
    assert_eq!(who.name_id, "n1");
    assert_eq!(who.name_qualifier, IDP);
    assert_eq!(who.assertion_id, "_an1");
    // A higher level than asked is fine; a lower one is not.
    let l3 = response(&w.answer(Level::L3, None), &w.idp_key, |x| x).unwrap();
    assert_eq!(w.check(&l3).unwrap().level, Level::L3);
    let l1 = response(&w.answer(Level::L1, None), &w.idp_key, |x| x).unwrap();
    assert!(matches!(w.check(&l1), Err(Refusal::Invalid(_))));
}

#[test]
fn the_providers_error_codes_reach_the_person_in_italian() {
    let w = world();
    for code in [19u16, 20, 21, 22, 23, 25, 30] {
        let xml = response(&w.answer(Level::L2, Some(code)), &w.idp_key, |x| x).unwrap();
        match w.check(&xml) {
            Err(Refusal::Provider { code: Some(c), .. }) => {
                assert_eq!(c, code);
                assert!(error_message_it(c).is_some());
            }
            other => panic!("code {code}: {other:?}"),
        }
    }
    assert!(error_message_it(24).is_none());
}

/// Every answer here is signed by the trusted provider, yet wrong: each must be refused.
#[test]
fn every_wrong_answer_is_refused() {
    let w = world();
    let good = w.signed(|x| x);
    let replace = |from: &'static str, to: &'static str| {
        move |x: String| {
            assert!(x.contains(from), "{from} not in the answer");
            x.replacen(from, to, 1)
        }
    };
    type Tweak = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "destination",
            Box::new(replace(
                "Destination=\"http://127.0.0.1:8080/t/demo/spid/acs\"",
                "Destination=\"http://evil.example/acs\"",
            )),
        ),
        (
            "in response to",
            Box::new(replace("InResponseTo=\"_q1\">", "InResponseTo=\"_q2\">")),
        ),
        (
            "version",
            Box::new(replace(
                "Version=\"2.0\" IssueInstant",
                "Version=\"1.0\" IssueInstant",
            )),
        ),
        (
            "date only",
            Box::new(replace(
                "IssueInstant=\"2026-12-07T08:00:00.123Z\" Destination",
                "IssueInstant=\"2026-12-07\" Destination",
            )),
        ),
        (
            "issued before the request",
            Box::new(replace(
                "IssueInstant=\"2026-12-07T08:00:00.123Z\" Destination",
                "IssueInstant=\"2018-01-01T00:00:00Z\" Destination",
            )),
        ),
        (
            "issued in the future",
            Box::new(replace(
                "IssueInstant=\"2026-12-07T08:00:00.123Z\" Destination",
                "IssueInstant=\"2099-01-01T00:00:00Z\" Destination",
            )),
        ),
        (
            "issuer",
            Box::new(replace(
                ">https://idp.prova.example</saml:Issuer>",
                ">https://other.example</saml:Issuer>",
            )),
        ),
        (
            "issuer format",
            Box::new(replace(
                "<saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:entity\">",
                "<saml:Issuer Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\">",
            )),
        ),
        (
            "name id format",
            Box::new(replace(
                "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\"",
                "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"",
            )),
        ),
        (
            "no name qualifier",
            Box::new(replace(" NameQualifier=\"https://idp.prova.example\"", "")),
        ),
        (
            "not bearer",
            Box::new(replace("cm:bearer", "cm:holder-of-key")),
        ),
        (
            "recipient",
            Box::new(replace(
                "Recipient=\"http://127.0.0.1:8080/t/demo/spid/acs\"",
                "Recipient=\"http://evil.example/acs\"",
            )),
        ),
        (
            "confirmation for another request",
            Box::new(replace(
                "<saml:SubjectConfirmationData InResponseTo=\"_q1\"",
                "<saml:SubjectConfirmationData InResponseTo=\"_q9\"",
            )),
        ),
        (
            "expired",
            Box::new(|x: String| {
                x.replace(
                    "NotOnOrAfter=\"2026-12-07T08:05:20.123Z\"",
                    "NotOnOrAfter=\"2026-12-07T08:00:10Z\"",
                )
            }),
        ),
        (
            "not yet valid",
            Box::new(replace(
                "NotBefore=\"2026-12-07T08:00:00.123Z\"",
                "NotBefore=\"2099-01-01T00:00:00Z\"",
            )),
        ),
        (
            "audience",
            Box::new(replace(
                "<saml:Audience>http://127.0.0.1:8080/t/demo/spid/metadata</saml:Audience>",
                "<saml:Audience>http://other.example/metadata</saml:Audience>",
            )),
        ),
        (
            "old level name",
            Box::new(replace(
                "https://www.spid.gov.it/SpidL2",
                "urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL2",
            )),
        ),
        (
            "no fiscal number",
            Box::new(replace("Name=\"fiscalNumber\"", "Name=\"spidCode\"")),
        ),
        ("empty value", Box::new(replace(">Mario<", "><"))),
        (
            "empty attribute statement",
            Box::new(|x: String| {
                let a = x.find("<saml:AttributeStatement>").unwrap()
                    + "<saml:AttributeStatement>".len();
                let b = x.find("</saml:AttributeStatement>").unwrap();
                format!("{}{}", &x[..a], &x[b..])
            }),
        ),
        (
            "no subject",
            Box::new(|x: String| {
                let a = x.find("<saml:Subject>").unwrap();
                let b = x.find("</saml:Subject>").unwrap() + "</saml:Subject>".len();
                format!("{}{}", &x[..a], &x[b..])
            }),
        ),
        (
            "no conditions",
            Box::new(|x: String| {
                let a = x.find("<saml:Conditions").unwrap();
                let b = x.find("</saml:Conditions>").unwrap() + "</saml:Conditions>".len();
                format!("{}{}", &x[..a], &x[b..])
            }),
        ),
        (
            "status not success",
            Box::new(replace("status:Success", "status:Requester")),
        ),
    ];
    assert!(w.check(&good).is_ok());
    for (what, tweak) in cases {
        let xml = response(&w.answer(Level::L2, None), &w.idp_key, tweak).unwrap();
        assert_ne!(xml, good, "{what}: nothing changed");
        let refusal = w.check(&xml).expect_err(what).to_string();
        assert!(
            refusal.contains(reason(what)),
            "{what}: refused because {refusal}"
        );
    }
}

/// Why each wrong answer must be refused: the right check caught it, not another.
fn reason(case: &str) -> &'static str {
    match case {
        "destination" => "Destination",
        "in response to" => "Response InResponseTo",
        "version" => "Version",
        "date only" => "not a UTC instant",
        "issued before the request" | "issued in the future" => "Response IssueInstant outside",
        "issuer" => "Response Issuer is not",
        "issuer format" => "Issuer Format",
        "name id format" => "NameID Format",
        "no name qualifier" => "NameQualifier",
        "not bearer" => "bearer",
        "recipient" => "Recipient",
        "confirmation for another request" => "SubjectConfirmationData InResponseTo",
        "expired" => "expired",
        "not yet valid" => "not valid yet",
        "audience" => "audience",
        "old level name" => "AuthnContextClassRef",
        "no fiscal number" => "fiscalNumber is missing",
        "empty value" => "has no value",
        "empty attribute statement" => "empty AttributeStatement",
        "no subject" => "Subject is missing",
        "no conditions" => "Conditions is missing",
        "status not success" => "refused",
        _ => panic!("no reason for {case}"),
    }
}

#[test]
fn forged_unsigned_and_wrapped_answers_are_refused() {
    let w = world();
    let good = w.signed(|x| x);
    // Signed by a key the metadata does not name.
    let (stranger, _) = key();
    let forged = response(&w.answer(Level::L2, None), &stranger, |x| x).unwrap();
    assert!(w.check(&forged).is_err());
    // Signatures removed.
    let mut unsigned = good.clone();
    while let (Some(a), Some(b)) = (
        unsigned.find("<ds:Signature"),
        unsigned.find("</ds:Signature>"),
    ) {
        unsigned = format!(
            "{}{}",
            &unsigned[..a],
            &unsigned[b + "</ds:Signature>".len()..]
        );
    }
    assert!(w.check(&unsigned).is_err());
    // A signed value changed after signing.
    assert!(
        w.check(&good.replace("RSSMRA80A01H501U", "VRDGPP80A01H501X"))
            .is_err()
    );
    // A second, unsigned assertion for someone else beside the signed one.
    let a = good.find("<saml:Assertion").unwrap();
    let b = good.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let copy = good[a..b]
        .replace("ID=\"_an1\"", "ID=\"_evil\"")
        .replace("RSSMRA80A01H501U", "VRDGPP80A01H501X");
    let wrapped = format!("{}{}{}", &good[..b], copy, &good[b..]);
    assert!(w.check(&wrapped).is_err());
    // The signed assertion hidden in the response's Extensions, a forged one in its place.
    let hidden = format!(
        "{}<samlp:Extensions>{}</samlp:Extensions>{}{}",
        &good[..a],
        &good[a..b],
        copy,
        &good[b..]
    );
    assert!(w.check(&hidden).is_err());
    // A DTD.
    assert!(
        w.check(&format!("<!DOCTYPE x [<!ENTITY e \"x\">]>{good}"))
            .is_err()
    );
}

/// The certificate `refettorio spid keygen` makes, read back as AgID's validator reads it.
#[test]
fn the_generated_certificate_follows_agids_public_sector_profile() {
    use refettorio_saml::cert::{Subject, generate};
    use x509_parser::prelude::*;
    let now: Timestamp = "2026-12-07T08:00:00Z".parse().unwrap();
    let subject = Subject {
        organization: "Comune di Prova",
        locality: "Prova",
        ipa_code: "c_x000",
        entity_id: "https://scuola.prova.it/t/prova/spid/metadata",
    };
    let (key, der) = generate(&subject, 2048, now, 730).unwrap();
    SigningKey::new(&key, der.clone()).unwrap();
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    let dn = cert.subject().to_string();
    assert!(
        dn.contains("CN=Comune di Prova") && dn.contains("C=IT"),
        "{dn}"
    );
    let attr = |oid: &str| {
        cert.subject()
            .iter_attributes()
            .find(|a| a.attr_type().to_id_string() == oid)
            .and_then(|a| a.as_str().ok())
            .map(str::to_string)
    };
    assert_eq!(attr("2.5.4.97").as_deref(), Some("PA:IT-c_x000"));
    assert_eq!(attr("2.5.4.83").as_deref(), Some(subject.entity_id));
    assert_eq!(
        cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp(),
        730 * 86_400
    );
    let mut seen = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::KeyUsage(ku) => {
                assert!(ext.critical, "keyUsage must be critical");
                assert!(ku.digital_signature() && ku.non_repudiation());
                assert!(!ku.key_encipherment() && !ku.key_cert_sign() && !ku.crl_sign());
                seen.push("keyUsage");
            }
            ParsedExtension::BasicConstraints(bc) => {
                assert!(!ext.critical, "basicConstraints must not be critical");
                assert!(!bc.ca);
                seen.push("basicConstraints");
            }
            ParsedExtension::CertificatePolicies(p) => {
                let oids: Vec<String> = p.iter().map(|i| i.policy_id.to_id_string()).collect();
                assert_eq!(oids, ["1.3.76.16.6", "1.3.76.16.4.2.1"]);
                seen.push("policies");
            }
            _ => {}
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, ["basicConstraints", "keyUsage", "policies"]);
    assert!(generate(&subject, 1024, now, 730).is_err());
}

/// Single logout's messages through the Redirect binding: signed, read back, refused with
/// another key or changed.
#[test]
fn logout_messages_travel_signed_and_read_back() {
    use refettorio_saml::logout::{Message, Subject, read, request_xml, response_xml};
    use refettorio_saml::redirect::{decode, encode};
    let (k, public) = key();
    let now: Timestamp = "2026-12-07T08:00:00Z".parse().unwrap();
    let subject = Subject {
        name_id: "_n1".into(),
        name_qualifier: IDP.into(),
        session_index: None,
    };
    let xml = request_xml(
        "_l1",
        now,
        "http://sp.example/metadata",
        "https://idp.prova.example/slo",
        &subject,
    );
    let url = encode(
        "https://idp.prova.example/slo",
        "SAMLRequest",
        &xml,
        "r1",
        &k,
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1;
    let got = decode(query, std::slice::from_ref(&public)).unwrap();
    assert_eq!(got.parameter, "SAMLRequest");
    assert_eq!(got.relay_state, "r1");
    assert_eq!(
        read(&got.xml).unwrap(),
        Message::Request {
            id: "_l1".into(),
            issuer: "http://sp.example/metadata".into(),
            subject,
        }
    );
    let (_, stranger) = key();
    assert!(decode(query, &[stranger]).is_err());
    assert!(decode(&query.replace("r1", "r2"), std::slice::from_ref(&public)).is_err());

    let xml = response_xml("_l2", now, IDP, "http://sp.example/slo", "_l1");
    let url = encode("http://sp.example/slo", "SAMLResponse", &xml, "", &k).unwrap();
    let got = decode(url.split_once('?').unwrap().1, &[public]).unwrap();
    assert_eq!(
        read(&got.xml).unwrap(),
        Message::Response {
            id: "_l2".into(),
            issuer: IDP.into(),
            in_response_to: "_l1".into(),
            success: true,
        }
    );
}

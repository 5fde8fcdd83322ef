//! Reading, first step: the XML bytes become a small tree of elements (namespaces resolved, no
//! DTD, bounded depth), walked in the XSD's order by [`Seq`].

use jiff::civil::Date;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use refettorio_domain::Cents;

use crate::types::*;
use crate::xsd::*;

// ---------------------------------------------------------------------------------------------
// Reader failures

/// A failure inside the reader, before the operation is attached.
pub(crate) struct Fail {
    pub(crate) code: FaultCode,
    pub(crate) detail: String,
}

impl Fail {
    pub(crate) fn into_error(self, operation: Option<Operation>) -> ParseError {
        ParseError {
            operation,
            code: self.code,
            detail: self.detail,
        }
    }
}

pub(crate) fn syntax(detail: impl Into<String>) -> Fail {
    Fail {
        code: FaultCode::SintassiExtraxsd,
        detail: detail.into(),
    }
}

pub(crate) fn semantic(detail: impl Into<String>) -> Fail {
    Fail {
        code: FaultCode::Semantica,
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading: XML → a small tree

/// An element of the message: its namespace, local name, child elements and text.
pub(crate) struct Element {
    pub(crate) ns: Option<String>,
    pub(crate) name: String,
    /// Carries attributes other than namespace declarations.
    pub(crate) attributes: bool,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// `{namespace}name`, or `name` when unqualified, cut when long.
    pub(crate) fn label(&self) -> String {
        let full = match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.name),
            None => self.name.clone(),
        };
        if full.chars().count() > 120 {
            let head: String = full.chars().take(120).collect();
            format!("{head}…")
        } else {
            full
        }
    }

    pub(crate) fn has_text(&self) -> bool {
        !self.text.chars().all(is_xml_space)
    }
}

/// Deep enough for every message of the WSDL (the deepest has 9 levels).
pub(crate) const MAX_DEPTH: usize = 32;

pub(crate) fn read_tree(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the message is not UTF-8 text".to_owned())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut first = true;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(ns) => Ok(Some(ns.0.to_owned())),
            ResolveResult::Unbound => Ok(None),
            ResolveResult::Unknown(prefix) => {
                Err(format!("the prefix {} is not declared", quote(&prefix)))
            }
        };
        let at_start = std::mem::replace(&mut first, false);
        match event {
            Event::Decl(decl) => {
                if !at_start {
                    return Err("an XML declaration must open the message".to_owned());
                }
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(|e| format!("bad XML declaration: {e}"))?;
                    if !encoding.eq_ignore_ascii_case("utf-8") {
                        return Err(format!("the encoding {} is not UTF-8", quote(&encoding)));
                    }
                }
            }
            Event::Start(e) => {
                let element = open_element(&e, ns?, &stack, &root)?;
                stack.push(element);
            }
            Event::Empty(e) => {
                let element = open_element(&e, ns?, &stack, &root)?;
                attach(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| "an end tag closes nothing".to_owned())?;
                attach(element, &mut stack, &mut root);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err("CDATA outside the document element".to_owned());
                }
                push_text(&mut stack, &c.xml10_content())?;
            }
            Event::GeneralRef(r) => {
                if stack.is_empty() {
                    return Err("a reference outside the document element".to_owned());
                }
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("unknown entity &{};", quote(other))),
                    },
                    Err(e) => return Err(format!("bad character reference: {e}")),
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::DocType(_) => return Err("a SOAP message may not carry a DTD".to_owned()),
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the message ends inside <{}>", open.label()));
    }
    root.ok_or_else(|| "the message holds no element".to_owned())
}

pub(crate) fn open_element(
    e: &BytesStart<'_>,
    ns: Option<String>,
    stack: &[Element],
    root: &Option<Element>,
) -> Result<Element, String> {
    if stack.is_empty() && root.is_some() {
        return Err("more than one document element".to_owned());
    }
    if stack.len() >= MAX_DEPTH {
        return Err(format!("elements nested deeper than {MAX_DEPTH}"));
    }
    let mut attributes = false;
    for attribute in e.attributes() {
        let attribute = attribute.map_err(|e| format!("bad attribute: {e}"))?;
        let key = attribute.key.into_inner();
        if key != "xmlns" && !key.starts_with("xmlns:") {
            attributes = true;
        }
    }
    Ok(Element {
        ns,
        name: e.local_name().into_inner().to_owned(),
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

pub(crate) fn attach(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

pub(crate) fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "the character U+{:04X} is not allowed in XML",
            u32::from(c)
        ));
    }
    match stack.last_mut() {
        Some(parent) => {
            parent.text.push_str(text);
            Ok(())
        }
        None if text.chars().all(is_xml_space) => Ok(()),
        None => Err("text outside the document element".to_owned()),
    }
}

/// The one element inside the SOAP 1.1 `Body`.
pub(crate) fn soap_body_child(root: &Element) -> Result<&Element, Fail> {
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(syntax(format!(
            "the message is <{}>, not a SOAP 1.1 Envelope",
            root.label()
        )));
    }
    if root.has_text() {
        return Err(syntax("text inside the SOAP Envelope"));
    }
    let mut children = root.children.iter();
    let mut next = children.next();
    if next.is_some_and(|c| c.is(SOAP_ENV_NS, "Header")) {
        next = children.next();
    }
    let body = match next {
        Some(c) if c.is(SOAP_ENV_NS, "Body") => c,
        Some(c) => {
            return Err(syntax(format!(
                "expected the SOAP Body, found <{}>",
                c.label()
            )));
        }
        None => return Err(syntax("the SOAP Envelope has no Body")),
    };
    // The envelope's schema allows elements of other namespaces after the Body.
    if let Some(extra) = children.find(|c| c.ns.is_none() || c.ns.as_deref() == Some(SOAP_ENV_NS)) {
        return Err(syntax(format!(
            "unexpected <{}> after the SOAP Body",
            extra.label()
        )));
    }
    if body.has_text() {
        return Err(syntax("text inside the SOAP Body"));
    }
    match body.children.as_slice() {
        [child] => Ok(child),
        [] => Err(syntax("the SOAP Body is empty")),
        _ => Err(syntax("the SOAP Body holds more than one element")),
    }
}

/// The children of a complex element, read in the order of the XSD's sequence.
pub(crate) struct Seq<'a> {
    pub(crate) parent: &'a str,
    items: &'a [Element],
    pos: usize,
}

impl<'a> Seq<'a> {
    pub(crate) fn of(el: &'a Element) -> Result<Seq<'a>, Fail> {
        if el.attributes {
            return Err(syntax(format!("<{}> may not carry attributes", el.name)));
        }
        if el.has_text() {
            return Err(syntax(format!(
                "<{}> may hold elements only, not text",
                el.name
            )));
        }
        Ok(Seq {
            parent: &el.name,
            items: &el.children,
            pos: 0,
        })
    }

    pub(crate) fn next_is(&self, name: &str) -> bool {
        self.items
            .get(self.pos)
            .is_some_and(|c| c.ns.is_none() && c.name == name)
    }

    pub(crate) fn opt(&mut self, name: &str) -> Option<&'a Element> {
        if self.next_is(name) {
            let el = self.items.get(self.pos);
            self.pos += 1;
            el
        } else {
            None
        }
    }

    pub(crate) fn req(&mut self, name: &str) -> Result<&'a Element, Fail> {
        if let Some(el) = self.opt(name) {
            return Ok(el);
        }
        Err(match self.items.get(self.pos) {
            Some(found) => syntax(format!(
                "{}: expected <{name}>, found <{}>",
                self.parent,
                found.label()
            )),
            None => syntax(format!("{}: <{name}> is missing", self.parent)),
        })
    }

    pub(crate) fn finish(&self) -> Result<(), Fail> {
        match self.items.get(self.pos) {
            Some(extra) => Err(syntax(format!(
                "{}: unexpected <{}>",
                self.parent,
                extra.label()
            ))),
            None => Ok(()),
        }
    }

    pub(crate) fn raw(&mut self, name: &str) -> Result<&'a str, Fail> {
        let el = self.req(name)?;
        leaf(el, self.parent)
    }

    pub(crate) fn opt_raw(&mut self, name: &str) -> Result<Option<&'a str>, Fail> {
        let parent = self.parent;
        self.opt(name).map(|el| leaf(el, parent)).transpose()
    }

    pub(crate) fn text(&mut self, name: &str, st: St) -> Result<String, Fail> {
        let v = self.raw(name)?;
        check(st, v).map_err(|m| syntax(format!("{}/{name}: {m}", self.parent)))?;
        Ok(v.to_owned())
    }

    pub(crate) fn opt_text(&mut self, name: &str, st: St) -> Result<Option<String>, Fail> {
        if self.next_is(name) {
            self.text(name, st).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn amount(&mut self, name: &str, kind: AmountKind) -> Result<Cents, Fail> {
        let raw = self.raw(name)?;
        let value = collapse_trim(raw);
        let c = parse_amount(value).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not an amount with two decimals",
                self.parent,
                quote(value)
            ))
        })?;
        check_amount(c, kind).map_err(|m| syntax(format!("{}/{name}: {m}", self.parent)))?;
        Ok(c)
    }

    pub(crate) fn opt_amount(
        &mut self,
        name: &str,
        kind: AmountKind,
    ) -> Result<Option<Cents>, Fail> {
        if self.next_is(name) {
            self.amount(name, kind).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn date(&mut self, name: &str) -> Result<Date, Fail> {
        let raw = self.raw(name)?;
        let value = collapse_trim(raw);
        parse_xsd_date(value).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not a date",
                self.parent,
                quote(value)
            ))
        })
    }

    pub(crate) fn opt_date(&mut self, name: &str) -> Result<Option<Date>, Fail> {
        if self.next_is(name) {
            self.date(name).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn opt_date_time(&mut self, name: &str) -> Result<Option<String>, Fail> {
        let Some(raw) = self.opt_raw(name)? else {
            return Ok(None);
        };
        let value = collapse_trim(raw);
        if is_xsd_date_time(value) {
            Ok(Some(value.to_owned()))
        } else {
            Err(syntax(format!(
                "{}/{name}: {} is not a date and time",
                self.parent,
                quote(value)
            )))
        }
    }

    pub(crate) fn boolean(&mut self, name: &str) -> Result<bool, Fail> {
        let raw = self.raw(name)?;
        parse_xsd_bool(raw).ok_or_else(|| {
            syntax(format!(
                "{}/{name}: {} is not a boolean",
                self.parent,
                quote(raw)
            ))
        })
    }

    pub(crate) fn opt_boolean(&mut self, name: &str) -> Result<Option<bool>, Fail> {
        if self.next_is(name) {
            self.boolean(name).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn id_transfer(&mut self) -> Result<u8, Fail> {
        let raw = self.raw("idTransfer")?;
        parse_xsd_int(raw)
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| (1..=5).contains(v))
            .ok_or_else(|| {
                syntax(format!(
                    "{}/idTransfer: {} is not 1 to 5",
                    self.parent,
                    quote(raw)
                ))
            })
    }
}

/// The text of an element with a simple type.
pub(crate) fn leaf<'a>(el: &'a Element, parent: &str) -> Result<&'a str, Fail> {
    if el.attributes {
        return Err(syntax(format!(
            "{parent}/{} may not carry attributes",
            el.name
        )));
    }
    if let Some(child) = el.children.first() {
        return Err(syntax(format!(
            "{parent}/{} holds text only, not <{}>",
            el.name,
            child.label()
        )));
    }
    Ok(&el.text)
}

/// The items of a list element (`transferList`, `metadata`): 1 to `max` `item` elements.
pub(crate) fn read_list<'a>(
    el: &'a Element,
    item: &str,
    max: usize,
) -> Result<Vec<&'a Element>, Fail> {
    let mut seq = Seq::of(el)?;
    let mut items = Vec::new();
    while let Some(i) = seq.opt(item) {
        items.push(i);
    }
    if items.is_empty() {
        seq.req(item)?;
    }
    if items.len() > max {
        return Err(syntax(format!(
            "{}: at most {max} <{item}>, not {}",
            el.name,
            items.len()
        )));
    }
    seq.finish()?;
    Ok(items)
}

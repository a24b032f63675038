//! Built-in Kubernetes kinds checked against their k8s-openapi types: the fields a type does not have and the values
//! of the wrong type, with kubectl-style paths (`manifest-unknown-field`, `manifest-invalid` in headlamp-e2e lint).
//!
//! A crate of its own only so that it is built optimised in the dev profile that `cargo xtask` uses (see the root
//! Cargo.toml): deserializing into the k8s-openapi types is generic code, compiled in the crate that instantiates
//! it, and a Flux install's CRDs made it the costliest part of a lint run in the unoptimised library.
//!
//! Built-in kinds: deserialize into the k8s-openapi type and collect what it ignores.
//!
//! The source is read through [`Track`], a deserializer over a `serde_json::Value` that knows the kubectl-style path of
//! every value. It gives type errors their path (serde's own message has none) and records the field names each struct
//! accepts at each path, which [`serde_ignored`] cannot tell. `serde_ignored` wraps it and reports every field the type
//! skipped.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use k8s_openapi::Resource;
use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, coordination, core, discovery, networking,
    policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

/// Checks one object of a known type.
pub type CheckFn = fn(&Value) -> Report;

macro_rules! typed {
    ($($t:ty),* $(,)?) => {
        &[$((<$t as Resource>::API_VERSION, <$t as Resource>::KIND, check_as::<$t> as CheckFn)),*]
    };
}

/// (apiVersion, kind, check) of every built-in kind this rule knows.
pub const TYPES: &[(&str, &str, CheckFn)] = typed![
    core::v1::ConfigMap,
    core::v1::LimitRange,
    core::v1::Namespace,
    core::v1::PersistentVolume,
    core::v1::PersistentVolumeClaim,
    core::v1::Pod,
    core::v1::PodTemplate,
    core::v1::ReplicationController,
    core::v1::ResourceQuota,
    core::v1::Secret,
    core::v1::Service,
    core::v1::ServiceAccount,
    apps::v1::ControllerRevision,
    apps::v1::DaemonSet,
    apps::v1::Deployment,
    apps::v1::ReplicaSet,
    apps::v1::StatefulSet,
    batch::v1::CronJob,
    batch::v1::Job,
    rbac::v1::ClusterRole,
    rbac::v1::ClusterRoleBinding,
    rbac::v1::Role,
    rbac::v1::RoleBinding,
    networking::v1::Ingress,
    networking::v1::IngressClass,
    networking::v1::NetworkPolicy,
    policy::v1::PodDisruptionBudget,
    autoscaling::v2::HorizontalPodAutoscaler,
    apiextensions::v1::CustomResourceDefinition,
    admissionregistration::v1::MutatingWebhookConfiguration,
    admissionregistration::v1::ValidatingAdmissionPolicy,
    admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    admissionregistration::v1::ValidatingWebhookConfiguration,
    apiregistration::v1::APIService,
    coordination::v1::Lease,
    discovery::v1::EndpointSlice,
    scheduling::v1::PriorityClass,
    storage::v1::CSIDriver,
    storage::v1::StorageClass,
];

pub fn lookup(api_version: &str, kind: &str) -> Option<CheckFn> {
    TYPES
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, f)| *f)
}

/// Check `metadata` (at `base`) of an object whose kind has no typed schema for it, e.g. a custom resource.
pub fn check_object_meta(value: &Value, base: &str) -> Report {
    check_at::<ObjectMeta>(value, base)
}

fn check_as<T: DeserializeOwned>(value: &Value) -> Report {
    check_at::<T>(value, "")
}

/// At most this many invalid values are reported per object (each one costs a pass).
const MAX_INVALID: usize = 16;

/// Deserialize `value` (found at `base`) as a `T`. A type error stops serde; to report everything, the bad value is
/// removed and the object read again (k8s-openapi defaults missing fields), until it reads or the error is one that
/// cannot be removed without shifting paths (an array element, the object itself).
fn check_at<T: DeserializeOwned>(value: &Value, base: &str) -> Report {
    let mut report = Report::default();
    let mut value = Cow::Borrowed(value);
    loop {
        let (unknown, error) = pass::<T>(&value, base);
        for u in unknown {
            if !report.unknown.iter().any(|x| x.path == u.path) {
                report.unknown.push(u);
            }
        }
        let Some(e) = error else { break };
        let pointer = e.pointer.clone().unwrap_or_default();
        report.invalid.push(Invalid {
            path: e.path.unwrap_or_else(|| base.to_string()),
            message: e.message,
        });
        if report.invalid.len() >= MAX_INVALID || !remove_field(value.to_mut(), &pointer) {
            break;
        }
    }
    report
}

/// Remove the object field at a JSON pointer; false when the pointer is not an object field.
fn remove_field(value: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(m)) => m.remove(&key).is_some(),
        _ => false,
    }
}

/// One read: the unknown fields met and the error that stopped it. The fields each struct accepts (for the
/// messages) are recorded only when there is an unknown field: then the value is read a second time, recording.
/// A clean object (nearly all of them: every CRD of a Flux install) builds no path for its structs.
fn pass<T: DeserializeOwned>(value: &Value, base: &str) -> (Vec<Unknown>, Option<DeError>) {
    let first = read::<T>(value, base, false);
    if first.ignored.is_empty() {
        return (Vec::new(), first.error);
    }
    let Read {
        ignored,
        error,
        fields,
    } = read::<T>(value, base, true);
    let unknown = ignored
        .into_iter()
        .map(|(parent, key)| Unknown {
            path: child_key(&parent, &key),
            known: fields
                .get(&parent)
                .map(|f| f.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            key,
        })
        .collect();
    (unknown, error)
}

/// What one read of a value gave.
struct Read {
    /// The fields the type ignored: (parent path, key).
    ignored: Vec<(String, String)>,
    /// The error that stopped the read.
    error: Option<DeError>,
    /// The fields each struct accepts, by path (empty unless recorded).
    fields: HashMap<String, &'static [&'static str]>,
}

fn read<T: DeserializeOwned>(value: &Value, base: &str, record: bool) -> Read {
    let fields: Fields = RefCell::new(record.then(HashMap::new));
    let mut ignored: Vec<(String, String)> = Vec::new();
    let de = Track {
        value,
        loc: Loc {
            parent: None,
            seg: Seg::Root(base),
        },
        fields: &fields,
    };
    let result: Result<T, DeError> = serde_ignored::deserialize(de, |p| {
        if let serde_ignored::Path::Map { parent, key } = &p {
            ignored.push((render_path(parent, base), key.clone()));
        }
    });
    Read {
        ignored,
        error: result.err(),
        fields: fields.into_inner().unwrap_or_default(),
    }
}

/// serde_ignored's path (`spec.?.template.spec.?.containers.0.x`) as kubectl prints it (`spec.template.spec.containers[0].x`).
fn render_path(p: &serde_ignored::Path<'_>, base: &str) -> String {
    use serde_ignored::Path;
    match p {
        Path::Root => base.to_string(),
        Path::Seq { parent, index } => child_index(&render_path(parent, base), *index),
        Path::Map { parent, key } => child_key(&render_path(parent, base), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_path(parent, base),
    }
}

/// Field names each struct accepts, by the path of the value it was read from, when they are being recorded.
type Fields = RefCell<Option<HashMap<String, &'static [&'static str]>>>;

/// A deserialization error with the path of the value that caused it (the innermost one).
#[derive(Debug)]
struct DeError {
    /// kubectl-style path.
    path: Option<String>,
    /// JSON pointer, relative to the value the read started at.
    pointer: Option<String>,
    message: String,
}

impl DeError {
    /// Locate the error at this value, unless an inner value already claimed it.
    fn at(mut self, loc: &Loc<'_>) -> Self {
        if self.path.is_none() {
            self.path = Some(loc.path());
            self.pointer = Some(loc.pointer());
        }
        self
    }
}

/// Where a value is: its segment and its parent's, up to the value the read started at. Only rendered when needed
/// (an error, a struct's accepted fields): most values are read without ever building their path.
#[derive(Clone, Copy)]
struct Loc<'p> {
    parent: Option<&'p Loc<'p>>,
    seg: Seg<'p>,
}

#[derive(Clone, Copy)]
enum Seg<'p> {
    /// The value the read started at, and its kubectl-style path.
    Root(&'p str),
    Key(&'p str),
    Index(usize),
}

impl Loc<'_> {
    /// kubectl-style path (`spec.containers[0].name`).
    fn path(&self) -> String {
        match (self.seg, self.parent) {
            (Seg::Root(base), _) => base.to_string(),
            (Seg::Key(k), Some(p)) => child_key(&p.path(), k),
            (Seg::Index(i), Some(p)) => child_index(&p.path(), i),
            (_, None) => String::new(),
        }
    }

    /// JSON pointer, relative to the value the read started at.
    fn pointer(&self) -> String {
        match (self.seg, self.parent) {
            (Seg::Root(_), _) | (_, None) => String::new(),
            (Seg::Key(k), Some(p)) => child_pointer(&p.pointer(), k),
            (Seg::Index(i), Some(p)) => format!("{}/{i}", p.pointer()),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            path: None,
            pointer: None,
            message: msg.to_string(),
        }
    }
}

/// A `serde_json::Value` deserializer (with serde_json's semantics) that tracks paths.
struct Track<'de, 'f, 'p> {
    value: &'de Value,
    loc: Loc<'p>,
    fields: &'f Fields,
}

impl<'p> Track<'_, '_, 'p> {
    fn locate(&self) -> impl Fn(DeError) -> DeError + use<'p> {
        let loc = self.loc;
        move |e| e.at(&loc)
    }
}

fn child_pointer(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

impl<'de> de::Deserializer<'de> for Track<'de, '_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let locate = self.locate();
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    match n.as_f64() {
                        Some(f) => visitor.visit_f64(f),
                        None => Err(de::Error::custom(format!("number {n} out of range"))),
                    }
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                iter: items.iter().enumerate(),
                loc: self.loc,
                fields: self.fields,
            }),
            Value::Object(map) => visitor.visit_map(Map {
                iter: map.iter(),
                value: None,
                loc: self.loc,
                fields: self.fields,
            }),
        };
        result.map_err(locate)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let locate = self.locate();
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(locate)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let locate = self.locate();
        visitor.visit_newtype_struct(self).map_err(locate)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if self.value.is_object()
            && let Some(recorded) = self.fields.borrow_mut().as_mut()
        {
            recorded.insert(self.loc.path(), fields);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only unit variants written as strings; k8s-openapi's object types use none of the other shapes.
        match self.value {
            Value::String(s) => {
                let de: de::value::StrDeserializer<'_, DeError> = s.as_str().into_deserializer();
                visitor.visit_enum(de).map_err(self.locate())
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple tuple_struct map identifier
    }
}

struct Seq<'de, 'f, 'p> {
    iter: std::iter::Enumerate<std::slice::Iter<'de, Value>>,
    loc: Loc<'p>,
    fields: &'f Fields,
}

impl<'de> SeqAccess<'de> for Seq<'de, '_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some((i, value)) => seed
                .deserialize(Track {
                    value,
                    loc: Loc {
                        parent: Some(&self.loc),
                        seg: Seg::Index(i),
                    },
                    fields: self.fields,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct Map<'de, 'f, 'p> {
    iter: serde_json::map::Iter<'de>,
    value: Option<(&'de str, &'de Value)>,
    loc: Loc<'p>,
    fields: &'f Fields,
}

impl<'de> MapAccess<'de> for Map<'de, '_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some((key.as_str(), value));
                seed.deserialize(BorrowedStrDeserializer::<DeError>::new(key))
                    .map(Some)
                    .map_err(|e| {
                        e.at(&Loc {
                            parent: Some(&self.loc),
                            seg: Seg::Key(key),
                        })
                    })
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("map value requested before its key"));
        };
        seed.deserialize(Track {
            value,
            loc: Loc {
                parent: Some(&self.loc),
                seg: Seg::Key(key),
            },
            fields: self.fields,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A field the object's type does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// kubectl-style path of the field.
    pub path: String,
    /// The field's own name (last segment of `path`).
    pub key: String,
    /// The fields its parent does have.
    pub known: Vec<String>,
}

/// A value that does not deserialize into its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// kubectl-style path of the value (empty for the object itself).
    pub path: String,
    pub message: String,
}

/// What checking one object found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub unknown: Vec<Unknown>,
    /// Values of the wrong type (each one was removed to read on).
    pub invalid: Vec<Invalid>,
}

/// `parent.key` (kubectl's path of a field).
pub fn child_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]` (kubectl's path of a list item).
pub fn child_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

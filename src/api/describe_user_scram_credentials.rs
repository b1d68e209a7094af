//! DescribeUserScramCredentials (key 50), v0: the SCRAM users, each with its mechanisms
//! and iteration counts (never a key). A null or empty user list describes every user;
//! an unknown user is RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE, as in
//! Kafka.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::{sb, RequestContext};
use crate::broker::Broker;
use crate::error::ResponseError;

pub async fn handle(
    request: DescribeUserScramCredentialsRequest,
    _ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeUserScramCredentialsResponse> {
    let all = broker.scram_credentials.describe();
    let result = |user: &str, infos: &[(crate::security::scram::ScramMechanism, i32)]| {
        let mut r = DescribeUserScramCredentialsResult::default();
        r.user = sb(user);
        r.credential_infos = infos
            .iter()
            .map(|(m, i)| {
                let mut c = CredentialInfo::default();
                c.mechanism = m.type_code();
                c.iterations = *i;
                c
            })
            .collect();
        r
    };
    let mut r = DescribeUserScramCredentialsResponse::default();
    match request.users.as_deref() {
        None | Some([]) => {
            r.results = all.iter().map(|(u, infos)| result(u, infos)).collect();
        }
        Some(users) => {
            let by_name: HashMap<&str, &Vec<_>> =
                all.iter().map(|(u, i)| (u.as_str(), i)).collect();
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for u in users {
                *counts.entry(u.name.as_str()).or_default() += 1;
            }
            let mut done = std::collections::HashSet::new();
            for u in users {
                let name = u.name.as_str();
                if !done.insert(name) {
                    continue;
                }
                let mut res = match by_name.get(name) {
                    Some(infos) => result(name, infos),
                    None => {
                        let mut res = result(name, &[]);
                        res.error_code = ResponseError::ResourceNotFound.code();
                        res.error_message = Some(sb(format!(
                            "Attempt to describe a user credential that does not exist: {name}"
                        )));
                        res
                    }
                };
                if counts[name] > 1 {
                    res.credential_infos.clear();
                    res.error_code = ResponseError::DuplicateResource.code();
                    res.error_message = Some(sb(format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single request: {name}"
                    )));
                }
                r.results.push(res);
            }
        }
    }
    Some(r)
}

//! Administration of the city's network: units, endpoints, vetting, users
//! with roles scoped to a unit subtree, audit, and the REST API.

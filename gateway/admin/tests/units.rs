//! Units through the API: both of the city's structures imported, as
//! trees and flat lists, scoped to the actor's subtree.

mod common;
use common::*;

on_both!(
    with World::new;
    unit_import_counts_and_trees,
);

fn count_nodes(v: &Value) -> usize {
    1 + v["children"]
        .as_array()
        .map(|c| c.iter().map(count_nodes).sum())
        .unwrap_or(0)
}

async fn unit_import_counts_and_trees(w: World) {
    // The files shipped with the crate, counted independently.
    let v24: Value = serde_json::from_str(data::UNITS_2024).unwrap();
    let v25: Value = serde_json::from_str(data::UNITS_2025).unwrap();
    let districts = v24["city"]["children"].as_array().unwrap();
    let wards24: usize = districts
        .iter()
        .map(|d| d["children"].as_array().unwrap().len())
        .sum();
    assert_eq!((districts.len(), wards24), (30, 526));
    assert_eq!(v25["city"]["children"].as_array().unwrap().len(), 126);

    // Importing again is a no-op.
    let again = w.admin.import_city_units().await.unwrap();
    assert_eq!(
        again[0],
        UnitImport {
            inserted: 0,
            updated: 0,
            unchanged: 557
        }
    );
    assert_eq!(
        again[1],
        UnitImport {
            inserted: 0,
            updated: 0,
            unchanged: 127
        }
    );

    let (st, _, trees) = w
        .call(
            Method::GET,
            "/api/v1/units?structure=2024",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let roots = trees.as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["name"], "Thành phố Hà Nội");
    assert_eq!(roots[0]["children"].as_array().unwrap().len(), 30);
    assert_eq!(count_nodes(&roots[0]), 557);
    let (_, _, trees) = w
        .call(
            Method::GET,
            "/api/v1/units?structure=2025",
            Some("city"),
            None,
        )
        .await;
    assert_eq!(trees[0]["children"].as_array().unwrap().len(), 126);
    let (_, _, all) = w
        .call(Method::GET, "/api/v1/units?flat=true", Some("city"), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 557 + 127);

    // A district administrator's tree is its district.
    let ba_dinh_wards = districts.iter().find(|d| d["code"] == 1).unwrap()["children"]
        .as_array()
        .unwrap()
        .len();
    let (_, _, trees) = w
        .call(Method::GET, "/api/v1/units", Some("bd-admin"), None)
        .await;
    assert_eq!(trees.as_array().unwrap().len(), 1);
    assert_eq!(trees[0]["code"], BA_DINH);
    assert_eq!(count_nodes(&trees[0]), 1 + ba_dinh_wards);
    let (st, _, sub) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{BA_DINH}/subtree"),
            Some("city"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(count_nodes(&sub[0]), 1 + ba_dinh_wards);

    let (st, _, u) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{TRUC_BACH}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["name"], "Phường Trúc Bạch");
    // Its ancestors as far as the actor sees: the district, not the city.
    assert_eq!(
        u["ancestors"],
        json!([{"structure": "2024", "code": BA_DINH}])
    );
    let (st, h, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2024/{HOAN_KIEM}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
    let (st, h, b) = w
        .call(
            Method::GET,
            &format!("/api/v1/units/2025/{TRUC_BACH}"),
            Some("bd-admin"),
            None,
        )
        .await;
    assert_problem(st, &h, &b, StatusCode::NOT_FOUND, "not found");
}

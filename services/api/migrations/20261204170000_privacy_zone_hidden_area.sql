-- Privacy zones hide more than the circle the owner gave, and not around its centre: each zone
-- keeps a hidden area drawn once, at random, and never shown to anyone (GET /me/privacy-zones
-- still answers what the owner entered). Its centre lies 1.3 to 1.6 radii from the given point,
-- in a random direction, and its radius reaches 1.1 to 1.3 radii beyond the given circle, so
-- the whole given circle is inside it; a stranger who fits a circle to where the owner's trimmed
-- walks begin and end finds the hidden centre, more than a radius from home. `trim_seed` draws,
-- per walk, a further stretch of path hidden at each edge (services/api/visibility.py), so the
-- edges do not even lie on that circle. See services/api/walks/privacy_zones.py for the draw.
ALTER TABLE privacy_zones
    ADD COLUMN hidden_lat      double precision,
    ADD COLUMN hidden_lng      double precision,
    ADD COLUMN hidden_radius_m double precision,
    ADD COLUMN trim_seed       bytea NOT NULL
        DEFAULT (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));

-- The zones made before: drawn here, with the same rule (the destination point on a sphere).
WITH draw AS (
    SELECT id, radians(lat) AS phi, radians(lng) AS lambda, radius_m,
           radius_m * (1.3 + 0.3 * random()) AS offset_m,
           2 * pi() * random() AS bearing,
           radius_m * (1.1 + 0.2 * random()) AS margin_m
    FROM privacy_zones
),
moved AS (
    SELECT id, phi, lambda, bearing, offset_m, margin_m, offset_m / 6371008.8 AS delta,
           asin(sin(phi) * cos(offset_m / 6371008.8)
                + cos(phi) * sin(offset_m / 6371008.8) * cos(bearing)) AS phi2
    FROM draw
)
UPDATE privacy_zones pz
   SET hidden_lat = degrees(m.phi2),
       hidden_lng = degrees(m.lambda + atan2(sin(m.bearing) * sin(m.delta) * cos(m.phi),
                                             cos(m.delta) - sin(m.phi) * sin(m.phi2))),
       hidden_radius_m = m.offset_m + m.margin_m
  FROM moved m
 WHERE pz.id = m.id;
-- Longitudes back into [-180, 180] (a zone near the antimeridian may have crossed it).
UPDATE privacy_zones
   SET hidden_lng = hidden_lng - 360 * floor((hidden_lng + 180) / 360)
 WHERE hidden_lng < -180 OR hidden_lng > 180;

ALTER TABLE privacy_zones
    ALTER COLUMN hidden_lat SET NOT NULL,
    ALTER COLUMN hidden_lng SET NOT NULL,
    ALTER COLUMN hidden_radius_m SET NOT NULL;

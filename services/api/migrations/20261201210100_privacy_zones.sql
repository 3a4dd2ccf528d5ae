-- Privacy zones: circles (home, work) inside which a user's walk paths are hidden from everyone
-- else. Paths are trimmed when read (services/api/visibility.py), never when stored, so a zone
-- covers walks recorded before it and a removed zone shows their points again.
CREATE TABLE privacy_zones (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lat        double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng        double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    radius_m   double precision NOT NULL CHECK (radius_m BETWEEN 100 AND 1000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX privacy_zones_user_idx ON privacy_zones (user_id, created_at, id);

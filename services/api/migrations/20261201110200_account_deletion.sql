-- Account deletion (`DELETE /me`, services/api/accounts/deletion.py) erases a user in one
-- transaction, mostly through ON DELETE. What that needs from the schema:

-- An invitation outlives either person: the partner keeps it (their walk may name it, the
-- location-access ledger does), with the deleted person shown as null.
ALTER TABLE invitations
    ALTER COLUMN inviter_id DROP NOT NULL,
    ALTER COLUMN invitee_id DROP NOT NULL,
    DROP CONSTRAINT invitations_inviter_id_fkey,
    DROP CONSTRAINT invitations_invitee_id_fkey,
    ADD CONSTRAINT invitations_inviter_id_fkey
        FOREIGN KEY (inviter_id) REFERENCES users (id) ON DELETE SET NULL,
    ADD CONSTRAINT invitations_invitee_id_fkey
        FOREIGN KEY (invitee_id) REFERENCES users (id) ON DELETE SET NULL;

-- Every row that names a user, found by an index rather than a scan of the whole table: the
-- notifications a user's actions caused, a user's comments, and (for each of a deleted user's
-- walks) the badges that name it.
CREATE INDEX notifications_actor_idx ON notifications (actor_id) WHERE actor_id IS NOT NULL;
CREATE INDEX comments_user_idx ON comments (user_id);
CREATE INDEX badges_walk_idx ON badges (walk_id) WHERE walk_id IS NOT NULL;

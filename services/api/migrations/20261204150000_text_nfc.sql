-- Text is stored in NFC from now on (the API normalises every text field it writes, issue 20):
-- rewrite the rows written before in another form, so that a nickname typed decomposed (NFD,
-- as some keyboards send `초코`) is found by search like any other, and equal text is equal.
UPDATE users SET nickname = normalize(nickname, NFC) WHERE nickname IS NOT NFC NORMALIZED;
UPDATE dogs SET name = normalize(name, NFC) WHERE name IS NOT NFC NORMALIZED;
UPDATE dogs SET breed = normalize(breed, NFC) WHERE breed IS NOT NFC NORMALIZED;
UPDATE walks SET memo = normalize(memo, NFC) WHERE memo IS NOT NFC NORMALIZED;
UPDATE comments SET body = normalize(body, NFC) WHERE body IS NOT NFC NORMALIZED;
UPDATE invitations SET message = normalize(message, NFC) WHERE message IS NOT NFC NORMALIZED;

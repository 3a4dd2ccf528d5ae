"""`GET /me/export`: a person's copy of their data (개인정보보호법 §35, CONTRACT section 3 "Your
data"), a ZIP streamed as it is built from one snapshot."""

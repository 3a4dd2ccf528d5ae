"""A person's rights over their location (위치정보법 §19③, §24; CONTRACT section 3, Location
consent): withdrawing location consent, pausing location sharing, and the notice that one's
location was provided."""

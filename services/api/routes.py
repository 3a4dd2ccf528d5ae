"""The API's route table: every path it serves, beside its handler, domain by domain (read it
first: any URL is found here)."""

from __future__ import annotations

from aiohttp import web

from services.api.accounts import deletion, email_links
from services.api.accounts import handlers as accounts
from services.api.consents import handlers as consents
from services.api.export import handlers as export
from services.api.location_rights import pause as location_pause
from services.api.location_rights import withdrawal as location_withdrawal
from services.api.moderation import console_api, console_pages, reports, staff_sessions
from services.api.notifications import devices
from services.api.notifications import handlers as notifications
from services.api.notifications import settings_handlers as notification_settings
from services.api.pages import handlers as pages
from services.api.pages.handlers import setup_pages
from services.api.rankings import badge_handlers as badges
from services.api.rankings import handlers as rankings
from services.api.social import blocks, dogs, follow_requests, search, users
from services.api.together import handlers as invitations
from services.api.together import location_log, tickets
from services.api.walks import feed, interactions, privacy_zones
from services.api.walks import handlers as walks
from shared.health import healthz


def setup_routes(app: web.Application) -> None:
    """Every path the API serves, beside its handler."""
    app.router.add_routes(
        [
            web.get("/healthz", healthz, allow_head=False),
            # consents/handlers.py
            web.get("/legal", consents.get_legal),
            web.get("/me/consents", consents.get_my_consents),
            web.post("/me/consents", consents.give_consents),
            web.delete("/me/consents/marketing", consents.withdraw_marketing),
            # location_rights/withdrawal.py
            web.delete(
                "/me/consents/location_terms", location_withdrawal.withdraw_location_consent
            ),
            # location_rights/pause.py
            web.post("/me/location-pause", location_pause.pause_location),
            web.delete("/me/location-pause", location_pause.resume_location),
            # accounts/handlers.py
            web.post("/auth/signup", accounts.signup),
            web.post("/auth/login", accounts.login),
            web.post("/auth/refresh", accounts.refresh),
            web.post("/auth/logout", accounts.logout),
            web.post("/auth/logout-all", accounts.logout_all),
            web.post("/me/password", accounts.change_password),
            # accounts/deletion.py
            web.delete("/me", deletion.delete_me),
            # accounts/email_links.py
            web.post("/me/email-verification", email_links.resend_verification),
            web.post("/auth/verify-email", email_links.post_verify_email),
            web.post("/auth/password-reset", email_links.post_password_reset),
            web.post("/auth/password-reset/confirm", email_links.post_password_reset_confirm),
            web.post("/auth/delete-request", email_links.post_delete_request),
            web.post("/auth/delete-confirm", email_links.post_delete_confirm),
            # social/users.py
            web.get("/me", users.get_me),
            web.patch("/me", users.patch_me),
            web.get("/users/{id}", users.get_user),
            web.post("/users/{id}/follow", users.follow_user),
            web.delete("/users/{id}/follow", users.unfollow_user),
            web.get("/users/{id}/followers", users.list_followers),
            web.get("/users/{id}/following", users.list_following),
            # social/search.py
            web.get("/users", search.find_users),
            # social/blocks.py
            web.post("/users/{id}/block", blocks.block_user),
            web.delete("/users/{id}/block", blocks.unblock_user),
            web.get("/me/blocks", blocks.get_my_blocks),
            # social/follow_requests.py
            web.get("/me/follow-requests", follow_requests.list_my_follow_requests),
            web.post(
                "/me/follow-requests/{user_id}/approve", follow_requests.approve_follow_request
            ),
            web.post(
                "/me/follow-requests/{user_id}/decline", follow_requests.decline_a_follow_request
            ),
            # social/dogs.py
            web.post("/me/dogs", dogs.add_dog),
            web.get("/users/{id}/dogs", dogs.get_user_dogs),
            web.delete("/me/dogs/{id}", dogs.remove_dog),
            # walks/handlers.py
            web.post("/walks", walks.create_walk),
            web.get("/walks/{id}", walks.get_walk_detail),
            web.delete("/walks/{id}", walks.delete_walk),
            web.get("/users/{id}/walks", walks.list_user_walks),
            # walks/privacy_zones.py
            web.get("/me/privacy-zones", privacy_zones.get_privacy_zones),
            web.post("/me/privacy-zones", privacy_zones.create_privacy_zone),
            web.delete("/me/privacy-zones/{id}", privacy_zones.remove_privacy_zone),
            # walks/feed.py
            web.get("/feed", feed.get_feed),
            # walks/interactions.py
            web.post("/walks/{id}/likes", interactions.like_walk),
            web.delete("/walks/{id}/likes", interactions.unlike_walk),
            web.post("/walks/{id}/comments", interactions.comment_on_walk),
            web.delete("/walks/{id}/comments/{comment_id}", interactions.remove_comment),
            web.get("/walks/{id}/interactions", interactions.get_interactions),
            # together/handlers.py
            web.post("/invitations", invitations.send_invitation),
            web.post("/invitations/{id}/accept", invitations.accept_invitation),
            web.post("/invitations/{id}/decline", invitations.decline_invitation),
            web.post("/invitations/{id}/cancel", invitations.cancel_invitation),
            web.post("/invitations/{id}/finish", invitations.finish_invitation),
            web.get("/invitations/{id}", invitations.get_invitation_detail),
            web.get("/invitations", invitations.list_my_invitations),
            # together/location_log.py
            web.get("/me/location-log", location_log.get_location_log),
            # together/tickets.py
            web.post("/realtime/tickets", tickets.create_ticket),
            # notifications/handlers.py
            web.get("/notifications", notifications.get_notifications),
            web.post("/notifications/read", notifications.read_notifications),
            # notifications/settings_handlers.py
            web.get("/me/notification-settings", notification_settings.get_notification_settings),
            web.patch(
                "/me/notification-settings", notification_settings.patch_notification_settings
            ),
            # notifications/devices.py
            web.post("/devices", devices.add_device),
            web.delete("/devices/{token:.+}", devices.remove_device),
            # rankings/handlers.py
            web.get("/rankings/weekly", rankings.get_weekly_ranking),
            # rankings/badge_handlers.py
            web.get("/users/{id}/badges", badges.list_user_badges),
            # moderation/reports.py
            web.post("/reports", reports.file_report),
            web.get("/me/reports", reports.list_my_reports),
            # moderation/staff_sessions.py
            web.post("/admin/api/session", staff_sessions.sign_in),
            web.get("/admin/api/session", staff_sessions.get_session),
            web.delete("/admin/api/session", staff_sessions.sign_out),
            # moderation/console_api.py
            web.get("/admin/api/reports", console_api.get_queue),
            web.get("/admin/api/users/{id}", console_api.get_user),
            web.post("/admin/api/reports/{id}/resolve", console_api.resolve_report),
            web.post("/admin/api/content/{type}/{id}/restore", console_api.restore),
            web.post("/admin/api/users/{id}/unsuspend", console_api.unsuspend),
            web.get("/admin/api/audit", console_api.get_audit),
            # moderation/console_pages.py
            web.get("/admin/", console_pages.console_page),
            web.get("/admin/console.js", console_pages.console_script),
            web.get("/admin/console.css", console_pages.console_style),
            # export/handlers.py
            web.get("/me/export", export.export_my_data),
            # pages/handlers.py (HTML, section 7)
            web.get("/account/verify", pages.verify_page),
            web.post("/account/verify", pages.verify_submit),
            web.get("/account/reset", pages.reset_page),
            web.post("/account/reset", pages.reset_submit),
            web.get("/account/delete", pages.delete_page),
            web.post("/account/delete", pages.delete_submit),
        ]
    )
    setup_pages(app)  # the account pages' templates and stylesheet

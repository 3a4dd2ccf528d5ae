"""The API's route table: every path it serves, beside its handler, domain by domain (read it
first: any URL is found here)."""

from __future__ import annotations

from aiohttp import web

from services.api.accounts import auth_handlers, deletion_handlers, email_link_handlers
from services.api.consents import consent_handlers
from services.api.export import export_handlers
from services.api.location_rights import pause_handlers, withdrawal_handlers
from services.api.moderation import (
    console_api_handlers,
    console_page_handlers,
    report_handlers,
    staff_session_handlers,
)
from services.api.notifications import device_handlers, notification_handlers, settings_handlers
from services.api.pages import account_page_handlers
from services.api.pages.account_page_handlers import setup_pages
from services.api.rankings import badge_handlers, ranking_handlers
from services.api.social import (
    block_handlers,
    dog_handlers,
    follow_handlers,
    follow_request_handlers,
    search_handlers,
    user_handlers,
)
from services.api.together import invitation_handlers, location_log_handlers, ticket_handlers
from services.api.walks import (
    feed_handlers,
    interaction_handlers,
    privacy_zone_handlers,
    walk_handlers,
)
from shared.health import healthz


def setup_routes(app: web.Application) -> None:
    """Every path the API serves, beside its handler."""
    app.router.add_routes(
        [
            web.get("/healthz", healthz, allow_head=False),
            # consents/consent_handlers.py
            web.get("/legal", consent_handlers.get_legal),
            web.get("/me/consents", consent_handlers.get_my_consents),
            web.post("/me/consents", consent_handlers.give_consents),
            web.delete("/me/consents/marketing", consent_handlers.withdraw_marketing),
            # location_rights/withdrawal_handlers.py
            web.delete(
                "/me/consents/location_terms", withdrawal_handlers.withdraw_location_consent
            ),
            # location_rights/pause_handlers.py
            web.post("/me/location-pause", pause_handlers.pause_location),
            web.delete("/me/location-pause", pause_handlers.resume_location),
            # accounts/auth_handlers.py
            web.post("/auth/signup", auth_handlers.signup),
            web.post("/auth/login", auth_handlers.login),
            web.post("/auth/refresh", auth_handlers.refresh),
            web.post("/auth/logout", auth_handlers.logout),
            web.post("/auth/logout-all", auth_handlers.logout_all),
            web.post("/me/password", auth_handlers.change_password),
            # accounts/deletion_handlers.py
            web.delete("/me", deletion_handlers.delete_me),
            # accounts/email_link_handlers.py
            web.post("/me/email-verification", email_link_handlers.resend_verification),
            web.post("/auth/verify-email", email_link_handlers.post_verify_email),
            web.post("/auth/password-reset", email_link_handlers.post_password_reset),
            web.post(
                "/auth/password-reset/confirm", email_link_handlers.post_password_reset_confirm
            ),
            web.post("/auth/delete-request", email_link_handlers.post_delete_request),
            web.post("/auth/delete-confirm", email_link_handlers.post_delete_confirm),
            # social/user_handlers.py
            web.get("/me", user_handlers.get_me),
            web.patch("/me", user_handlers.patch_me),
            web.get("/users/{id}", user_handlers.get_user),
            # social/follow_handlers.py
            web.post("/users/{id}/follow", follow_handlers.follow_user),
            web.delete("/users/{id}/follow", follow_handlers.unfollow_user),
            web.get("/users/{id}/followers", follow_handlers.list_followers),
            web.get("/users/{id}/following", follow_handlers.list_following),
            # social/search_handlers.py
            web.get("/users", search_handlers.find_users),
            # social/block_handlers.py
            web.post("/users/{id}/block", block_handlers.block_user),
            web.delete("/users/{id}/block", block_handlers.unblock_user),
            web.get("/me/blocks", block_handlers.get_my_blocks),
            # social/follow_request_handlers.py
            web.get("/me/follow-requests", follow_request_handlers.list_my_follow_requests),
            web.post(
                "/me/follow-requests/{user_id}/approve",
                follow_request_handlers.approve_follow_request,
            ),
            web.post(
                "/me/follow-requests/{user_id}/decline",
                follow_request_handlers.decline_a_follow_request,
            ),
            # social/dog_handlers.py
            web.post("/me/dogs", dog_handlers.add_dog),
            web.get("/users/{id}/dogs", dog_handlers.get_user_dogs),
            web.delete("/me/dogs/{id}", dog_handlers.remove_dog),
            # walks/walk_handlers.py
            web.post("/walks", walk_handlers.create_walk),
            web.get("/walks/{id}", walk_handlers.get_walk_detail),
            web.delete("/walks/{id}", walk_handlers.delete_walk),
            web.get("/users/{id}/walks", walk_handlers.list_user_walks),
            # walks/privacy_zone_handlers.py
            web.get("/me/privacy-zones", privacy_zone_handlers.get_privacy_zones),
            web.post("/me/privacy-zones", privacy_zone_handlers.create_privacy_zone),
            web.delete("/me/privacy-zones/{id}", privacy_zone_handlers.remove_privacy_zone),
            # walks/feed_handlers.py
            web.get("/feed", feed_handlers.get_feed),
            # walks/interaction_handlers.py
            web.post("/walks/{id}/likes", interaction_handlers.like_walk),
            web.delete("/walks/{id}/likes", interaction_handlers.unlike_walk),
            web.post("/walks/{id}/comments", interaction_handlers.comment_on_walk),
            web.delete("/walks/{id}/comments/{comment_id}", interaction_handlers.remove_comment),
            web.get("/walks/{id}/interactions", interaction_handlers.get_interactions),
            # together/invitation_handlers.py
            web.post("/invitations", invitation_handlers.send_invitation),
            web.post("/invitations/{id}/accept", invitation_handlers.accept_invitation),
            web.post("/invitations/{id}/decline", invitation_handlers.decline_invitation),
            web.post("/invitations/{id}/cancel", invitation_handlers.cancel_invitation),
            web.post("/invitations/{id}/finish", invitation_handlers.finish_invitation),
            web.get("/invitations/{id}", invitation_handlers.get_invitation_detail),
            web.get("/invitations", invitation_handlers.list_my_invitations),
            # together/location_log_handlers.py
            web.get("/me/location-log", location_log_handlers.get_location_log),
            # together/ticket_handlers.py
            web.post("/realtime/tickets", ticket_handlers.create_ticket),
            # notifications/notification_handlers.py
            web.get("/notifications", notification_handlers.get_notifications),
            web.post("/notifications/read", notification_handlers.read_notifications),
            # notifications/settings_handlers.py
            web.get("/me/notification-settings", settings_handlers.get_notification_settings),
            web.patch("/me/notification-settings", settings_handlers.patch_notification_settings),
            # notifications/device_handlers.py
            web.post("/devices", device_handlers.add_device),
            web.delete("/devices/{token:.+}", device_handlers.remove_device),
            # rankings/ranking_handlers.py
            web.get("/rankings/weekly", ranking_handlers.get_weekly_ranking),
            # rankings/badge_handlers.py
            web.get("/users/{id}/badges", badge_handlers.list_user_badges),
            # moderation/report_handlers.py
            web.post("/reports", report_handlers.file_report),
            web.get("/me/reports", report_handlers.list_my_reports),
            # moderation/staff_session_handlers.py
            web.post("/admin/api/session", staff_session_handlers.sign_in),
            web.get("/admin/api/session", staff_session_handlers.get_session),
            web.delete("/admin/api/session", staff_session_handlers.sign_out),
            # moderation/console_api_handlers.py
            web.get("/admin/api/reports", console_api_handlers.get_queue),
            web.get("/admin/api/users/{id}", console_api_handlers.get_user),
            web.post("/admin/api/reports/{id}/resolve", console_api_handlers.resolve_report),
            web.post("/admin/api/content/{type}/{id}/restore", console_api_handlers.restore),
            web.post("/admin/api/users/{id}/unsuspend", console_api_handlers.unsuspend),
            web.get("/admin/api/audit", console_api_handlers.get_audit),
            # moderation/console_page_handlers.py
            web.get("/admin/", console_page_handlers.console_page),
            web.get("/admin/console.js", console_page_handlers.console_script),
            web.get("/admin/console.css", console_page_handlers.console_style),
            # export/export_handlers.py
            web.get("/me/export", export_handlers.export_my_data),
            # pages/account_page_handlers.py (HTML, section 7)
            web.get("/account/verify", account_page_handlers.verify_page),
            web.post("/account/verify", account_page_handlers.verify_submit),
            web.get("/account/reset", account_page_handlers.reset_page),
            web.post("/account/reset", account_page_handlers.reset_submit),
            web.get("/account/delete", account_page_handlers.delete_page),
            web.post("/account/delete", account_page_handlers.delete_submit),
        ]
    )
    setup_pages(app)  # the account pages' templates and stylesheet

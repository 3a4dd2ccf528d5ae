"""What the account pages say, in Korean and in English."""

from __future__ import annotations

from services.api.web.languages import Language

TEXTS: dict[Language, dict[str, str]] = {
    "ko": {
        "app": "멍이랑",
        "bad_link_title": "링크를 쓸 수 없습니다",
        "bad_link": "이 링크는 이미 사용되었거나, 만료되었거나, 더 새 링크로 대체되었습니다.",
        "bad_link_reset": "앱의 로그인 화면에서 비밀번호 재설정을 다시 요청해 주세요.",
        "bad_link_verify": "앱에서 확인 메일을 다시 요청해 주세요.",
        "bad_link_delete": "아래에서 삭제 링크를 다시 요청할 수 있습니다.",
        "request_again": "삭제 링크 다시 요청하기",
        "too_many_title": "요청이 너무 많습니다",
        "too_many": "잠시 후에 다시 시도해 주세요.",
        "verify_title": "이메일 주소 확인",
        "verify_lead": "아래 버튼을 누르면 이 이메일 주소가 확인됩니다.",
        "verify_button": "이메일 주소 확인하기",
        "verified_title": "확인되었습니다",
        "verified": "이메일 주소가 확인되었습니다. 이제 앱으로 돌아가셔도 됩니다.",
        "reset_title": "새 비밀번호 정하기",
        "reset_lead": "새 비밀번호를 입력해 주세요. 바꾸면 다른 기기에서는 모두 로그아웃됩니다.",
        "new_password": "새 비밀번호",
        "confirm_password": "새 비밀번호 확인",
        "password_hint": "8자 이상",
        "too_short": "비밀번호는 8자 이상이어야 합니다.",
        "too_long": "비밀번호가 너무 깁니다.",
        "mismatch": "두 비밀번호가 서로 다릅니다.",
        "reset_button": "비밀번호 바꾸기",
        "reset_done_title": "비밀번호가 바뀌었습니다",
        "reset_done": "앱에서 새 비밀번호로 로그인해 주세요.",
        "reset_refused_title": "비밀번호를 바꿀 수 없습니다",
        "reset_refused": "이 계정은 이용이 정지되어 있습니다. 계정 삭제는 계속 할 수 있습니다.",
        "delete_title": "계정 삭제",
        "delete_ask_lead": "앱 없이도 계정을 삭제할 수 있습니다. 가입한 이메일 주소를 입력하면 "
        "삭제 링크를 보내 드립니다.",
        "email": "이메일 주소",
        "bad_email": "이메일 주소를 확인해 주세요.",
        "delete_ask_button": "삭제 링크 받기",
        "delete_sent_title": "메일을 확인해 주세요",
        "delete_sent": "이 주소로 가입한 계정이 있다면 삭제 링크를 보냈습니다. 링크는 30분 "
        "동안 쓸 수 있습니다.",
        "delete_lead": "아래 버튼을 누르면 계정이 바로, 되돌릴 수 없게 삭제됩니다.",
        "delete_erased_heading": "삭제되는 것",
        "delete_erased": "프로필과 반려견 정보|산책 기록과 경로, 받은 좋아요와 댓글|"
        "다른 사람의 산책에 남긴 좋아요와 댓글|팔로우와 팔로워, 차단 목록|알림, 배지, "
        "랭킹 기록|개인정보 보호 구역과 설정, 등록된 기기",
        "delete_kept_heading": "법에 따라 남는 것",
        "delete_kept": "동의 기록 (탈퇴 후 5년)|위치정보 이용·제공 기록 (법정 보관 기간)|"
        "신고된 콘텐츠의 증거 (처리 후 정해진 기간)",
        "delete_button": "계정 영구 삭제",
        "deleted_title": "계정이 삭제되었습니다",
        "deleted": "그동안 멍이랑과 함께해 주셔서 감사합니다.",
    },
    "en": {
        "app": "withbowwow",
        "bad_link_title": "This link cannot be used",
        "bad_link": "This link has been used already, has expired, or a newer link replaced it.",
        "bad_link_reset": "Ask for a new password reset from the app's sign-in screen.",
        "bad_link_verify": "Ask for a new confirmation email in the app.",
        "bad_link_delete": "You can ask for a new deletion link below.",
        "request_again": "Ask for a new deletion link",
        "too_many_title": "Too many requests",
        "too_many": "Please try again a little later.",
        "verify_title": "Confirm your email address",
        "verify_lead": "Press the button below to confirm this email address.",
        "verify_button": "Confirm my email address",
        "verified_title": "Confirmed",
        "verified": "Your email address is confirmed. You can go back to the app.",
        "reset_title": "Choose a new password",
        "reset_lead": "Enter a new password. Changing it signs you out on every other device.",
        "new_password": "New password",
        "confirm_password": "Confirm the new password",
        "password_hint": "At least 8 characters",
        "too_short": "The password must have at least 8 characters.",
        "too_long": "The password is too long.",
        "mismatch": "The two passwords are not the same.",
        "reset_button": "Change my password",
        "reset_done_title": "Your password is changed",
        "reset_done": "Sign in to the app with your new password.",
        "reset_refused_title": "The password cannot be changed",
        "reset_refused": "This account is suspended. You can still delete it.",
        "delete_title": "Delete your account",
        "delete_ask_lead": "You can delete your account without the app. Enter the email "
        "address you signed up with and we will send you a deletion link.",
        "email": "Email address",
        "bad_email": "Please check the email address.",
        "delete_ask_button": "Send me a deletion link",
        "delete_sent_title": "Check your email",
        "delete_sent": "If an account uses this address, we sent it a deletion link. The link "
        "works for 30 minutes.",
        "delete_lead": "Pressing the button below deletes the account at once. It cannot be "
        "undone.",
        "delete_erased_heading": "What is erased",
        "delete_erased": "Your profile and your dogs|Your walks and their paths, with the likes "
        "and comments on them|Your likes and comments on other people's walks|Your follows, "
        "followers and blocks|Your notifications, badges and rankings|Your privacy zones, "
        "settings and devices",
        "delete_kept_heading": "What the law asks us to keep",
        "delete_kept": "The record of your consents (5 years)|The record of when your location "
        "was provided (its legal period)|Evidence of reported content (a set period after the "
        "report is resolved)",
        "delete_button": "Delete my account for good",
        "deleted_title": "Your account is deleted",
        "deleted": "Thank you for walking with withbowwow.",
    },
}

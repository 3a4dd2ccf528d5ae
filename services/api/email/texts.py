"""What each email says, in Korean and in English."""

from __future__ import annotations

from services.api.email.tokens import Kind
from services.api.web.languages import Language

APP_NAME: dict[Language, str] = {"ko": "멍이랑", "en": "withbowwow"}

TEXTS: dict[Language, dict[Kind, dict[str, str]]] = {
    "ko": {
        "verify": {
            "subject": "[멍이랑] 이메일 주소를 확인해 주세요",
            "heading": "이메일 주소 확인",
            "body": "멍이랑에 가입해 주셔서 감사합니다. "
            "아래 버튼을 눌러 이메일 주소를 확인해 주세요.",
            "button": "이메일 주소 확인하기",
            "expiry": "이 링크는 7일 동안, 한 번만 쓸 수 있습니다.",
            "ignore": "직접 가입하지 않으셨다면 이 메일을 무시하셔도 됩니다.",
        },
        "reset": {
            "subject": "[멍이랑] 비밀번호 재설정",
            "heading": "비밀번호 재설정",
            "body": "비밀번호를 재설정해 달라는 요청을 받았습니다. "
            "아래 버튼을 눌러 새 비밀번호를 정해 주세요.",
            "button": "새 비밀번호 정하기",
            "expiry": "이 링크는 30분 동안, 한 번만 쓸 수 있습니다.",
            "ignore": "요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다.",
        },
        "delete": {
            "subject": "[멍이랑] 계정 삭제 확인",
            "heading": "계정 삭제",
            "body": "계정을 삭제해 달라는 요청을 받았습니다. 아래 버튼을 누르면 삭제되는 내용을 "
            "보여 주는 페이지가 열리고, 그 페이지의 버튼을 눌러야 계정이 삭제됩니다.",
            "button": "계정 삭제 페이지 열기",
            "expiry": "이 링크는 30분 동안, 한 번만 쓸 수 있습니다.",
            "ignore": "요청하지 않으셨다면 이 메일을 무시하세요. 계정은 그대로 남습니다.",
        },
    },
    "en": {
        "verify": {
            "subject": "[withbowwow] Please confirm your email address",
            "heading": "Confirm your email address",
            "body": "Thank you for joining withbowwow. Press the button below to confirm "
            "your email address.",
            "button": "Confirm my email address",
            "expiry": "This link works once, for 7 days.",
            "ignore": "If you did not sign up, you can ignore this email.",
        },
        "reset": {
            "subject": "[withbowwow] Reset your password",
            "heading": "Reset your password",
            "body": "We were asked to reset your password. Press the button below to choose "
            "a new one.",
            "button": "Choose a new password",
            "expiry": "This link works once, for 30 minutes.",
            "ignore": "If you did not ask for this, ignore this email: your password stays "
            "as it is.",
        },
        "delete": {
            "subject": "[withbowwow] Confirm deleting your account",
            "heading": "Delete your account",
            "body": "We were asked to delete your account. The button below opens a page "
            "that shows what will be erased; the account is deleted only when you press the "
            "button on that page.",
            "button": "Open the deletion page",
            "expiry": "This link works once, for 30 minutes.",
            "ignore": "If you did not ask for this, ignore this email: your account stays "
            "as it is.",
        },
    },
}

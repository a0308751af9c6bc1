"""The multi-department report of an incident: timeline, evidence, actions and KPIs, as JSON and
as a printable page (zh-CN by default, English on request)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from yingyan.service import models as m
from yingyan.service.access import Principal
from yingyan.service.kpi import incident_kpis

if TYPE_CHECKING:
    from yingyan.service.store import IncidentStore

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)

LABELS = {
    "zh": {
        "title": "交通事件处置报告",
        "incident": "事件编号",
        "type": "类型",
        "cause": "原因",
        "state": "状态",
        "severity": "严重程度",
        "district": "辖区",
        "where": "位置",
        "cameras": "涉及卡口",
        "started": "发生时间",
        "detected": "发现时间",
        "ended": "拥堵结束",
        "departments": "通报部门",
        "timeline": "时间线",
        "actions": "处置记录",
        "evidence": "证据",
        "kpis": "考核指标",
        "time": "时间",
        "what": "事项",
        "actor": "人员",
        "action": "操作",
        "note": "备注",
        "generated": "生成时间",
        "print": "打印",
        "lanes": "占用车道",
    },
    "en": {
        "title": "Traffic incident report",
        "incident": "Incident",
        "type": "Type",
        "cause": "Cause",
        "state": "State",
        "severity": "Severity",
        "district": "District",
        "where": "Where",
        "cameras": "Checkpoints",
        "started": "Started",
        "detected": "Detected",
        "ended": "Congestion ended",
        "departments": "Reported to",
        "timeline": "Timeline",
        "actions": "Actions",
        "evidence": "Evidence",
        "kpis": "KPIs",
        "time": "Time",
        "what": "What",
        "actor": "Actor",
        "action": "Action",
        "note": "Note",
        "generated": "Generated",
        "print": "Print",
        "lanes": "Lanes blocked",
    },
}

CAUSES = {
    "zh": {
        "stopped_vehicle": "停车",
        "crash": "交通事故",
        "illegal_parking": "违停",
        "wrong_way": "逆行",
        "pedestrian": "行人",
        "lane_blocked": "占道",
        "blockage": "道路阻断",
        "recurrent": "常发拥堵",
        "congestion": "拥堵",
    },
    "en": {
        "stopped_vehicle": "stopped vehicle",
        "crash": "crash",
        "illegal_parking": "illegal parking",
        "wrong_way": "wrong way",
        "pedestrian": "pedestrian",
        "lane_blocked": "lane blocked",
        "blockage": "blockage",
        "recurrent": "recurrent",
        "congestion": "congestion",
    },
}

STATES = {
    "zh": {
        "detected": "已发现", "alerted": "已报警", "acknowledged": "已签收", "confirmed": "已确认",
        "dismissed": "已驳回", "dispatched": "已派警", "on_scene": "已到场", "cleared": "已清除",
        "reported": "已通报", "closed": "已结案",
    },
    "en": {},
}  # fmt: skip

KPI_LABELS = {
    "zh": {
        "time_to_detect_s": "发现用时",
        "time_to_alert_s": "推送用时",
        "time_to_acknowledge_s": "签收用时",
        "time_to_confirm_s": "确认用时",
        "time_to_dispatch_s": "派警用时",
        "time_to_arrive_s": "到场用时",
        "response_s": "出警到场",
        "roadway_clearance_s": "车道恢复",
        "incident_clearance_s": "处置完毕",
        "abnormal_congestion_s": "异常拥堵时长",
    },
    "en": {
        "time_to_detect_s": "Time to detect",
        "time_to_alert_s": "Time to alert",
        "time_to_acknowledge_s": "Time to acknowledge",
        "time_to_confirm_s": "Time to confirm",
        "time_to_dispatch_s": "Time to dispatch",
        "time_to_arrive_s": "Time to arrive",
        "response_s": "Dispatch to arrival",
        "roadway_clearance_s": "Roadway clearance",
        "incident_clearance_s": "Incident clearance",
        "abnormal_congestion_s": "Abnormal congestion",
    },
}


def report_body(store: IncidentStore, s: Session, row: m.Incident, principal: Principal) -> dict[str, Any]:
    """The report of ``row`` as JSON (what is stored when it is issued, and what the API returns)."""
    from yingyan.service.store import evidence_json, step_json, summary

    steps = list(s.scalars(select(m.Step).where(m.Step.incident_id == row.id).order_by(m.Step.id)))
    alert = s.scalar(select(m.Alert).where(m.Alert.incident_id == row.id))
    evidence = list(s.scalars(select(m.Evidence).where(m.Evidence.incident_id == row.id)))
    timeline = [{"at": t["at"], "source": "engine", "what": t["what"]} for t in row.timeline]
    timeline += [
        {"at": st.at.isoformat(), "source": st.actor, "what": st.action + (f": {st.note}" if st.note else "")}
        for st in steps
    ]
    timeline.sort(key=lambda t: t["at"])
    departments = [
        {"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en}
        for d in s.scalars(select(m.Department).where(m.Department.code.in_(row.departments)))
    ]
    return {
        "format": "yingyan.report/1",
        "incident": summary(row, alert, store.sla_s(row)),
        "departments": departments,
        "timeline": timeline,
        "actions": [step_json(st) for st in steps],
        "evidence": [evidence_json(e) for e in evidence],
        "kpis": incident_kpis(row, steps, alert),
        "generated_by": principal.username,
    }


def report_html(body: dict[str, Any], timezone: str, lang: str = "zh") -> str:
    """The printable page of a report (times in the site's local time)."""
    lang = lang if lang in LABELS else "zh"
    zone = ZoneInfo(timezone)

    def local(text: str | None) -> str:
        if not text:
            return "—"
        return datetime.fromisoformat(text).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    def duration(value: float | None) -> str:
        if value is None:
            return "—"
        minutes, seconds = divmod(int(round(value)), 60)
        return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"

    return TEMPLATES.get_template("report.html").render(
        r=body,
        t=LABELS[lang],
        causes=CAUSES[lang],
        kpi_labels=KPI_LABELS[lang],
        states=STATES[lang],
        local=local,
        duration=duration,
        lang="zh-CN" if lang == "zh" else "en",
        timezone=timezone,
        generated=local(datetime.now(zone).isoformat()),
    )

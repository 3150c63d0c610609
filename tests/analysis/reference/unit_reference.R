# Reference values from R `survey` for tests/analysis/test_unit_reference.py (unit-level design).
#   cd tests/analysis/reference && Rscript unit_reference.R     (writes unit_reference.csv)
# Data: unit_data.csv (make_unit_dataset.py).  Design: every service point is a stratum and the
# respondents are the sampled units: svydesign(ids=~1, strata=~service_point, weights=~weight),
# lonely.psu = "adjust" (SP23 has one respondent).
# - items: svymean(~I(q>=4)) / svymean(~q), na.rm = TRUE, whole and svyby(~agency);
# - composites (element E1, overall): svycontrast of the domain's totals from svyby(..., svytotal,
#   covmat = TRUE); the whole is the sum of the agencies' totals (agencies partition respondents);
# - differences: agency A1 − A2, every agency − whole, change 2026-02 − 2026-01 within each agency
#   (svyby(~agency + month)), kiosk − qr (channels cross the strata, so their covariance matters);
# - df: degf() of the design restricted to a domain's answers of an item (kind "degf"), and degf of
#   the domain itself for composites (kind "degf_domain"); svyby reports no df of its own (its
#   confint uses degf of the whole design, n − H), so the domain restriction is what we pin;
# - svyciprop(method = "xlogit") on the design restricted to an item's answers, and on the domain's design
#   with na.rm = TRUE (what svyby(…, svyciprop) does: df = degf of the domain, R's default and ours).
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("unit_data.csv", stringsAsFactors = FALSE)
items <- paste0("Q", 1:6)
for (q in items) {
  a <- !is.na(d[[q]])
  d[[paste0("s_", q)]] <- as.numeric(a & d[[q]] >= 4)
  d[[paste0("a_", q)]] <- as.numeric(a)
  d[[paste0("v_", q)]] <- ifelse(a, d[[q]], 0)
}
des <- svydesign(ids = ~1, strata = ~service_point, weights = ~weight, data = d)
out <- list()
add <- function(kind, measure, by, a, b, est, se, df = NA, lo = NA, hi = NA) {
  out[[length(out) + 1]] <<- data.frame(kind = kind, measure = measure, by = by, a = a, b = b,
    estimate = sprintf("%.17g", est), se = sprintf("%.17g", se), df = df,
    ci_low = sprintf("%.17g", lo), ci_high = sprintf("%.17g", hi))
}
agencies <- sort(unique(d$agency))
# ---- items, whole and by agency
for (q in items) {
  for (kind in c("sat", "mean")) {
    f <- if (kind == "sat") as.formula(paste0("~I(", q, ">=4)")) else as.formula(paste0("~", q))
    code <- if (kind == "sat") q else paste0(q, ":mean")
    m <- svymean(f, des, na.rm = TRUE)
    i <- if (kind == "sat") 2 else 1
    add("item", code, "all", "all", "", coef(m)[i], SE(m)[i])
    r <- svyby(f, ~agency, des, svymean, na.rm = TRUE)
    cf <- coef(r); s <- setNames(as.vector(as.matrix(SE(r))), names(cf))
    if (kind == "sat") { keep <- grepl("TRUE", names(cf)); cf <- cf[keep]; s <- s[keep] }
    add("item", code, "agency", as.character(r$agency), "", cf, s)
  }
}
# ---- composites and differences: nonlinear svycontrast of domain totals
vars <- c(rbind(paste0("s_", items), paste0("a_", items), paste0("v_", items)))
tot_f <- as.formula(paste("~", paste(vars, collapse = "+")))
tot <- function(ps, v) paste0("(", paste0("`", ps, v, "`", collapse = "+"), ")")
rat <- function(ps, q, kind = "s") paste0(tot(ps, paste0(kind, "_", q)), "/", tot(ps, paste0("a_", q)))
measure <- function(ps, m) {
  switch(m,
    Q1 = rat(ps, "Q1"), Q2 = rat(ps, "Q2"), "Q1:mean" = rat(ps, "Q1", "v"),
    E1 = paste0("(", paste(sapply(items[1:3], function(q) rat(ps, q)), collapse = "+"), ")/3"),
    overall = paste0("((", paste(sapply(items[1:3], function(q) rat(ps, q)), collapse = "+"), ")/3 + (",
                     paste(sapply(items[4:6], function(q) rat(ps, q)), collapse = "+"), ")/3)/2"))
}
contrast <- function(est, kind, by, m, a, b, expr) {
  cc <- svycontrast(est, list(x = parse(text = expr)[[1]]))
  add(kind, m, by, a, b, coef(cc), SE(cc))
}
ag <- svyby(tot_f, ~agency, des, svytotal, covmat = TRUE)
all_p <- paste0(agencies, ":")
for (m in c("E1", "overall")) {
  contrast(ag, "composite", "all", m, "all", "", measure(all_p, m))
  for (v in agencies) contrast(ag, "composite", "agency", m, v, "", measure(paste0(v, ":"), m))
}
for (m in c("Q1", "Q1:mean", "E1", "overall")) {
  contrast(ag, "pair", "agency", m, "A1", "A2", paste0(measure("A1:", m), " - (", measure("A2:", m), ")"))
  for (v in agencies)
    contrast(ag, "whole", "agency", m, v, "all", paste0(measure(paste0(v, ":"), m), " - (", measure(all_p, m), ")"))
}
am <- svyby(tot_f, ~agency + month, des, svytotal, covmat = TRUE)
for (m in c("Q1", "overall")) for (v in agencies)
  contrast(am, "change", "agency", m, v, "", paste0(measure(paste0(v, ".2026-02:"), m), " - (",
                                                    measure(paste0(v, ".2026-01:"), m), ")"))
ch <- svyby(tot_f, ~channel, des, svytotal, covmat = TRUE)
for (m in c("Q2", "overall")) contrast(ch, "pair", "channel", m, "kiosk", "qr",
                                       paste0(measure("kiosk:", m), " - (", measure("qr:", m), ")"))
# ---- degrees of freedom
add("degf_design", "", "all", "all", "", degf(des), 0, degf(des))
for (q in items[1:2]) {
  dq <- subset(des, !is.na(d[[q]]))
  add("degf", q, "all", "all", "", degf(dq), 0, degf(dq))
  for (v in agencies) {
    dd <- subset(des, !is.na(d[[q]]) & d$agency == v)
    add("degf", q, "agency", v, "", degf(dd), 0, degf(dd))
  }
}
for (v in agencies) {
  dd <- subset(des, d$agency == v)
  add("degf_domain", "", "agency", v, "", degf(dd), 0, degf(dd))
}
# ---- proportion intervals (xlogit) on the design restricted to answers
for (q in items[1:2]) {
  dq <- subset(des, !is.na(d[[q]]))
  f <- as.formula(paste0("~I(", q, ">=4)"))
  ci <- svyciprop(f, dq, method = "xlogit")
  add("ciprop_xlogit", q, "all", "all", "", coef(ci), SE(ci), degf(dq), attr(ci, "ci")[1], attr(ci, "ci")[2])
  for (v in agencies) {
    ci <- svyciprop(f, subset(dq, agency == v), method = "xlogit")
    add("ciprop_xlogit", q, "agency", v, "", coef(ci), SE(ci), degf(subset(dq, agency == v)),
        attr(ci, "ci")[1], attr(ci, "ci")[2])
  }
}
# ---- proportion intervals (xlogit) as svyby would compute them: svyciprop on the domain's design with
#      na.rm = TRUE, so df = degf of the domain (every respondent of the domain − its strata), R's default
for (q in items[1:2]) {
  f <- as.formula(paste0("~I(", q, ">=4)"))
  ci <- svyciprop(f, des, method = "xlogit", na.rm = TRUE)
  add("ciprop_xlogit_domain", q, "all", "all", "", coef(ci), SE(ci), degf(des), attr(ci, "ci")[1],
      attr(ci, "ci")[2])
  for (v in agencies) {
    dd <- subset(des, agency == v)
    ci <- svyciprop(f, dd, method = "xlogit", na.rm = TRUE)
    add("ciprop_xlogit_domain", q, "agency", v, "", coef(ci), SE(ci), degf(dd), attr(ci, "ci")[1],
        attr(ci, "ci")[2])
  }
}
res <- do.call(rbind, out)
write.csv(res, "unit_reference.csv", row.names = FALSE, quote = FALSE)
cat(nrow(res), "reference rows, survey", as.character(packageVersion("survey")), "\n")

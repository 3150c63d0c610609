# Reference values from R `survey` for tests/analysis/test_compare.py (differences inside one design).
#   cd tests/analysis/reference && Rscript compare_reference.R     (writes compare_reference.csv)
# Data: core_data.csv (make_dataset.py).  Design as make_reference.R: ids=~service_point,
# strata=~district, weights=~weight, lonely.psu = "adjust".  A difference of ratios is a nonlinear
# svycontrast of domain totals from svyby(..., covmat = TRUE), so the covariance between the two
# domains through shared clusters is included; unit vs whole writes the whole as the sum of the
# agencies' totals (agencies partition the respondents).
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("core_data.csv", stringsAsFactors = FALSE)
items <- paste0("Q", 1:6)
for (q in items) {
  a <- !is.na(d[[q]])
  d[[paste0("s_", q)]] <- as.numeric(a & d[[q]] >= 4)
  d[[paste0("a_", q)]] <- as.numeric(a)
  d[[paste0("v_", q)]] <- ifelse(a, d[[q]], 0)
}
des <- svydesign(ids = ~service_point, strata = ~district, weights = ~weight, data = d)
vars <- c(rbind(paste0("s_", items), paste0("a_", items), paste0("v_", items)))
tot_f <- as.formula(paste("~", paste(vars, collapse = "+")))

# measure expressions for a domain prefix p ("A1:"), or for a sum over prefixes
tot <- function(ps, v) paste0("(", paste0("`", ps, v, "`", collapse = "+"), ")")
rat <- function(ps, q, kind = "s") paste0(tot(ps, paste0(kind, "_", q)), "/", tot(ps, paste0("a_", q)))
measure <- function(ps, m) {
  switch(m,
    Q1 = rat(ps, "Q1"), Q2 = rat(ps, "Q2"), "Q1:mean" = rat(ps, "Q1", "v"),
    E1 = paste0("(", paste(sapply(items[1:3], function(q) rat(ps, q)), collapse = "+"), ")/3"),
    E2 = paste0("(", paste(sapply(items[4:6], function(q) rat(ps, q)), collapse = "+"), ")/3"),
    overall = paste0("(", paste(sapply(items, function(q) rat(ps, q)), collapse = "+"), ")/6"))
}
out <- list()
contrast <- function(est, kind, by, m, a, b, pa, pb) {
  e <- parse(text = paste0(measure(pa, m), " - (", measure(pb, m), ")"))[[1]]
  cc <- svycontrast(est, list(diff = e))
  out[[length(out) + 1]] <<- data.frame(kind = kind, by = by, measure = m, a = a, b = b,
    estimate = sprintf("%.17g", coef(cc)), se = sprintf("%.17g", SE(cc)))
}
ag <- svyby(tot_f, ~agency, des, svytotal, covmat = TRUE)
agencies <- sort(unique(d$agency))
for (m in c("Q1", "Q1:mean", "E1", "overall")) contrast(ag, "pair", "agency", m, "A1", "A2", "A1:", "A2:")
all_p <- paste0(agencies, ":")
for (m in c("Q1", "overall")) for (v in agencies) contrast(ag, "whole", "agency", m, v, "all", paste0(v, ":"), all_p)
ch <- svyby(tot_f, ~channel, des, svytotal, covmat = TRUE)
for (m in c("Q2", "E2")) contrast(ch, "pair", "channel", m, "kiosk", "qr", "kiosk:", "qr:")
ac <- svyby(tot_f, ~agency + channel, des, svytotal, covmat = TRUE)
for (m in c("Q1", "E1")) for (v in agencies)
  contrast(ac, "change", "agency", m, v, "", paste0(v, ".kiosk:"), paste0(v, ".qr:"))
res <- do.call(rbind, out)
write.csv(res, "compare_reference.csv", row.names = FALSE, quote = FALSE)
cat(nrow(res), "reference rows, survey", as.character(packageVersion("survey")), "\n")

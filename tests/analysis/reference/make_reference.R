# Reference values from R `survey` for tests/analysis/test_reference.py.
#   cd tests/analysis/reference && Rscript make_reference.R     (writes core_reference.csv)
# Design: svydesign(ids=~service_point, strata=~district, weights=~weight), lonely.psu = "adjust".
# Items: svymean(~I(q>=4)) and svymean(~q) with na.rm=TRUE, by domain with svyby; composites: svycontrast
# of the domain's totals (nonlinear, i.e. delta method = linearisation); degf of domain subsets;
# svyciprop logit / xlogit / beta on the design restricted to the item's answers.
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
d <- read.csv("core_data.csv", stringsAsFactors = FALSE)
items <- paste0("Q", 1:6)
for (q in items) {
  d[[paste0("s_", q)]] <- as.numeric(!is.na(d[[q]]) & d[[q]] >= 4)
  d[[paste0("a_", q)]] <- as.numeric(!is.na(d[[q]]))
}
des <- svydesign(ids = ~service_point, strata = ~district, weights = ~weight, data = d)
out <- list()
add <- function(kind, measure, by, domain, est, se, df = NA, lo = NA, hi = NA) {
  out[[length(out) + 1]] <<- data.frame(kind = kind, measure = measure, by = by, domain = domain,
    estimate = sprintf("%.17g", est), se = sprintf("%.17g", se), df = df,
    ci_low = sprintf("%.17g", lo), ci_high = sprintf("%.17g", hi))
}
domains <- list(all = NULL, agency = "agency", district = "district", channel = "channel")
for (q in items) {
  for (kind in c("sat", "mean")) {
    f <- if (kind == "sat") as.formula(paste0("~I(", q, ">=4)")) else as.formula(paste0("~", q))
    code <- if (kind == "sat") q else paste0(q, ":mean")
    m <- svymean(f, des, na.rm = TRUE)
    est <- coef(m); if (kind == "sat") est <- est[2]
    se <- SE(m); if (kind == "sat") se <- se[2]
    add("item", code, "all", "all", est, se)
    for (b in c("agency", "district", "channel")) {
      r <- svyby(f, as.formula(paste0("~", b)), des, svymean, na.rm = TRUE)
      cf <- coef(r); s <- setNames(as.vector(as.matrix(SE(r))), names(cf))
      if (kind == "sat") { keep <- grepl("TRUE", names(cf)); cf <- cf[keep]; s <- s[keep] }
      add("item", code, b, as.character(r[[b]]), cf, s)
    }
  }
}
# element and overall indices: svycontrast of the domain's totals of s_q and a_q
tot_f <- as.formula(paste("~", paste(c(rbind(paste0("s_", items), paste0("a_", items))), collapse = "+")))
ratio <- function(q) paste0("s_", q, "/a_", q)
exprs <- list(
  E1 = parse(text = paste0("(", paste(sapply(items[1:3], ratio), collapse = "+"), ")/3"))[[1]],
  E2 = parse(text = paste0("(", paste(sapply(items[4:6], ratio), collapse = "+"), ")/3"))[[1]],
  overall = parse(text = paste0("((", paste(sapply(items[1:3], ratio), collapse = "+"), ")/3 + (",
                                paste(sapply(items[4:6], ratio), collapse = "+"), ")/3)/2"))[[1]],
  W = parse(text = paste0("0.7*", ratio("Q1"), "+0.3*", ratio("Q6")))[[1]],
  P = parse(text = paste0("0.5 + 2.25*(", ratio("Q1"), "+", ratio("Q4"), ")"))[[1]]
)
composite <- function(dd, by, dom) {
  tt <- svytotal(tot_f, dd)
  cc <- svycontrast(tt, exprs)
  n_cl <- length(unique(dd$cluster[weights(dd) != 0, 1]))
  add("composite", names(exprs), by, dom, coef(cc), SE(cc), degf(dd))
}
composite(des, "all", "all")
for (b in c("agency", "district", "channel")) {
  for (v in sort(unique(d[[b]]))) composite(subset(des, d[[b]] == v), b, v)
}
# degrees of freedom of domains restricted to an item's answers (R degf)
for (q in items[1:2]) {
  dq <- subset(des, !is.na(d[[q]]))
  add("degf", q, "all", "all", degf(dq), 0, degf(dq))
  for (v in sort(unique(d$agency))) {
    dd <- subset(des, !is.na(d[[q]]) & d$agency == v)
    add("degf", q, "agency", v, degf(dd), 0, degf(dd))
  }
}
# proportion intervals under the design (svyciprop) on the design restricted to answers
for (q in items[1:3]) {
  dq <- subset(des, !is.na(d[[q]]))
  f <- as.formula(paste0("~I(", q, ">=4)"))
  for (method in c("logit", "xlogit", "beta")) {
    ci <- svyciprop(f, dq, method = method)
    add(paste0("ciprop_", method), q, "all", "all", coef(ci), SE(ci), degf(dq),
        attr(ci, "ci")[1], attr(ci, "ci")[2])
    for (v in sort(unique(d$agency))) {
      dd <- subset(dq, agency == v)
      ci <- svyciprop(f, dd, method = method)
      add(paste0("ciprop_", method), q, "agency", v, coef(ci), SE(ci), degf(dd),
          attr(ci, "ci")[1], attr(ci, "ci")[2])
    }
  }
}
res <- do.call(rbind, out)
write.csv(res, "core_reference.csv", row.names = FALSE, quote = FALSE)
cat(nrow(res), "reference rows, survey", as.character(packageVersion("survey")), "\n")
